import numpy as np
import torch

import kiln
from kiln.engine.threads import forward_flops, thread_count, threads_for


def test_small_models_use_one_thread_and_conv_nets_all():
    with thread_count(2):
        mlp = kiln.Sequential([kiln.Input(shape=[8]), kiln.layers.Dense(50), kiln.layers.Dense(1)])
        assert threads_for(mlp, torch.zeros(32, 8)) == 1
        conv = kiln.Sequential([kiln.Input(shape=[28, 28, 1]), kiln.layers.Conv2D(32, 3),
                                kiln.layers.MaxPooling2D(2), kiln.layers.Conv2D(64, 3)])
        assert threads_for(conv, torch.zeros(32, 28, 28, 1)) is None


def test_forward_flops_count_the_multiply_adds_of_dense_conv_and_recurrent_layers():
    mlp = kiln.Sequential([kiln.Input(shape=[8]), kiln.layers.Dense(50), kiln.layers.Dense(1)])
    assert forward_flops(mlp, torch.zeros(32, 8)) == 2 * 32 * (8 * 50 + 50 * 1)
    conv = kiln.Sequential([kiln.Input(shape=[10, 10, 3]), kiln.layers.Conv2D(4, 3)])
    assert forward_flops(conv, torch.zeros(2, 10, 10, 3)) == 2 * (2 * 10 * 10) * (3 * 3 * 3 * 4)
    lstm = kiln.Sequential([kiln.Input(shape=[7, 5]), kiln.layers.LSTM(6)])
    assert forward_flops(lstm, torch.zeros(4, 7, 5)) == 2 * (4 * 7) * (5 * 24 + 6 * 24)


def test_fit_restores_the_thread_count():
    model = kiln.Sequential([kiln.Input(shape=[3]), kiln.layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    with thread_count(2):
        model.fit(np.ones((8, 3)), np.ones(8), verbose=0)
        assert model._threads == 1 and torch.get_num_threads() == 2


def test_thread_count_restores_the_setting():
    before = torch.get_num_threads()
    with thread_count(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
