"""Tests for kiln.saving.atomic: atomic replacement, cleanup, clear errors for unwritable paths."""

import os
import signal
import subprocess
import sys

import pytest

from kiln.saving import atomic
from kiln.saving.atomic import atomic_write, check_writable


def _folder_entries(folder):
    return sorted(os.listdir(folder))


def test_writes_bytes_and_text_and_leaves_no_temporary_file(tmp_path):
    binary, text = tmp_path / "data.bin", tmp_path / "notes.txt"
    with atomic_write(binary) as file:
        file.write(b"\x00\x01\x02")
    with atomic_write(text, "w") as file:
        file.write("épreuve\n")
    assert binary.read_bytes() == b"\x00\x01\x02"
    assert text.read_bytes() == "épreuve\n".encode("utf-8")
    assert _folder_entries(tmp_path) == ["data.bin", "notes.txt"]


def test_replaces_an_existing_file(tmp_path):
    target = tmp_path / "model.kiln"
    target.write_bytes(b"old")
    with atomic_write(target) as file:
        file.write(b"new content")
    assert target.read_bytes() == b"new content"
    assert _folder_entries(tmp_path) == ["model.kiln"]


def test_error_inside_the_block_keeps_the_old_file(tmp_path):
    target = tmp_path / "model.kiln"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_write(target) as file:
            file.write(b"half of the new")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert _folder_entries(tmp_path) == ["model.kiln"]


def test_failure_of_the_final_rename_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "model.kiln"
    target.write_bytes(b"old")

    def crash(source, destination):
        raise OSError("killed before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="killed before the rename"):
        with atomic_write(target) as file:
            file.write(b"new")
    assert target.read_bytes() == b"old"
    assert _folder_entries(tmp_path) == ["model.kiln"]


def test_process_killed_mid_write_leaves_the_old_file_whole(tmp_path):
    target = tmp_path / "model.kiln"
    target.write_bytes(b"old")
    # Loads atomic.py on its own (no torch import), writes half a file, then waits to be killed.
    script = (
        "import importlib.util, sys, time\n"
        f"spec = importlib.util.spec_from_file_location('atomic', {atomic.__file__!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        f"with module.atomic_write({str(target)!r}) as file:\n"
        "    file.write(b'x' * 100000); file.flush()\n"
        "    print('writing', flush=True); time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline() == b"writing\n"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    assert target.read_bytes() == b"old"
    leftovers = [name for name in _folder_entries(tmp_path) if name != "model.kiln"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".model.kiln.")  # only the temp file


def test_new_file_gets_the_permissions_of_a_plain_open(tmp_path):
    umask = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "file.bin") as file:
            file.write(b"x")
    finally:
        os.umask(umask)
    assert os.stat(tmp_path / "file.bin").st_mode & 0o777 == 0o644


def test_missing_folder_is_a_clear_error(tmp_path):
    path = tmp_path / "no_such_folder" / "model.kiln"
    with pytest.raises(ValueError, match=r"`filepath`=.*model\.kiln.*folder .*no_such_folder.* "
                                         r"does not exist"):
        with atomic_write(path) as file:
            file.write(b"x")
    with pytest.raises(ValueError, match="`checkpoint_path`="):
        check_writable(path, argument="checkpoint_path")


def test_folder_path_existing_file_without_overwrite_and_bad_mode(tmp_path):
    with pytest.raises(ValueError, match="it is a folder, not a file"):
        check_writable(tmp_path)
    target = tmp_path / "model.kiln"
    target.write_bytes(b"old")
    check_writable(target)  # overwrite=True: fine
    with pytest.raises(ValueError, match="exists and overwrite=False"):
        check_writable(target, overwrite=False)
    with pytest.raises(ValueError, match=r"`mode` must be 'wb' or 'w', but received: mode='a'"):
        with atomic_write(target, "a"):
            pass
    assert target.read_bytes() == b"old"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ValueError, match="is not writable"):
            check_writable(folder / "model.kiln")
    finally:
        folder.chmod(0o700)

