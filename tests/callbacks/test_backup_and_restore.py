import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import kiln
from kiln.layers import Dense, Dropout

SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import kiln

    backup_dir, output, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    kiln.utils.set_random_seed(1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5)).astype("float32")
    y = X @ rng.normal(size=5).astype("float32")
    model = kiln.Sequential([kiln.Input(shape=[5]), kiln.layers.Dense(16, activation="relu"),
                             kiln.layers.Dropout(0.3), kiln.layers.Dense(1)])
    model.compile(loss="mse", optimizer="adam", metrics=["mae"])
    steps = [0]

    def crash(batch, logs):
        steps[0] += 1
        if steps[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # a real crash, mid-epoch

    history = model.fit(X, y, epochs=4, batch_size=16, verbose=0, callbacks=[
        kiln.callbacks.BackupAndRestore(backup_dir, save_freq=3),
        kiln.callbacks.EarlyStopping(monitor="loss", patience=50),
        kiln.callbacks.LambdaCallback(on_train_batch_end=crash)])
    np.savez(output, *model.get_weights(), loss=np.array(history.history["loss"]))
""")


def run_script(tmp_path, backup_dir, output, kill_at):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    return subprocess.run([sys.executable, str(script), str(backup_dir), str(output),
                           str(kill_at)], capture_output=True, text=True, timeout=300)


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted_run(tmp_path):
    straight = run_script(tmp_path, tmp_path / "backup_a", tmp_path / "straight.npz", -1)
    assert straight.returncode == 0, straight.stderr
    killed = run_script(tmp_path, tmp_path / "backup_b", tmp_path / "resumed.npz", 20)
    assert killed.returncode == -signal.SIGKILL  # 13 steps per epoch: killed in epoch 2
    assert (tmp_path / "backup_b" / "backup.kiln").exists()
    resumed = run_script(tmp_path, tmp_path / "backup_b", tmp_path / "resumed.npz", -1)
    assert resumed.returncode == 0, resumed.stderr
    expected, actual = np.load(tmp_path / "straight.npz"), np.load(tmp_path / "resumed.npz")
    for key in expected.files:
        np.testing.assert_array_equal(actual[key], expected[key], err_msg=key)
    assert not (tmp_path / "backup_b" / "backup.kiln").exists()  # deleted after success


class Interrupt(kiln.callbacks.Callback):
    def __init__(self, at_step):
        super().__init__()
        self.at_step, self.steps = at_step, 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps == self.at_step:
            raise KeyboardInterrupt


def make_model():
    kiln.utils.clear_session()
    kiln.utils.set_random_seed(3)
    model = kiln.Sequential([kiln.Input(shape=[4]), Dense(8, activation="relu"), Dropout(0.2),
                             Dense(1)])
    model.compile(loss="mse", optimizer=kiln.optimizers.SGD(learning_rate=0.05, momentum=0.9))
    return model


@pytest.mark.parametrize("save_freq, interrupt_at", [("epoch", 17), (4, 10), (4, 12)])
def test_interrupted_fit_resumes_in_process(tmp_path, save_freq, interrupt_at):
    X = np.random.default_rng(1).normal(size=(96, 4)).astype("float32")
    y = X.sum(axis=1)
    model = make_model()
    history = model.fit(X, y, epochs=3, batch_size=16, verbose=0)
    expected = model.get_weights()
    model = make_model()
    backup = kiln.callbacks.BackupAndRestore(tmp_path, save_freq=save_freq)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, epochs=3, batch_size=16, verbose=0,
                  callbacks=[backup, Interrupt(interrupt_at)])
    model = make_model()
    resumed = model.fit(X, y, epochs=3, batch_size=16, verbose=0, callbacks=[backup])
    for a, b in zip(expected, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.history["loss"] == pytest.approx(history.history["loss"], rel=1e-6)
    assert resumed.epoch == [0, 1, 2]


def test_bad_arguments():
    with pytest.raises(ValueError, match="save_freq"):
        kiln.callbacks.BackupAndRestore("x", save_freq=0)


def test_resume_with_a_shuffled_kiln_data_pipeline(tmp_path):
    X = np.random.default_rng(2).normal(size=(96, 4)).astype("float32")
    y = X.sum(axis=1)

    def dataset():
        return kiln.data.Dataset.from_tensor_slices((X, y)).shuffle(50).batch(16)

    model = make_model()
    model.fit(dataset(), epochs=3, verbose=0)
    expected = model.get_weights()
    model = make_model()
    backup = kiln.callbacks.BackupAndRestore(tmp_path, save_freq=4)
    with pytest.raises(KeyboardInterrupt):
        model.fit(dataset(), epochs=3, verbose=0, callbacks=[backup, Interrupt(10)])
    model = make_model()
    model.fit(dataset(), epochs=3, verbose=0, callbacks=[backup])
    for a, b in zip(expected, model.get_weights()):
        np.testing.assert_array_equal(a, b)
