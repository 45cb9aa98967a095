"""The process group training starts is ended before the interpreter's teardown (a gloo group
left to it can abort a finished torchrun rank with SIGABRT)."""

import atexit

import torch.distributed as dist

from movingfashion.seam import train


def test_the_group_training_starts_is_destroyed_at_exit(tmp_path, monkeypatch):
    registered = []
    monkeypatch.setattr(atexit, "register", lambda fn, *args: registered.append((fn, args)))
    store = f"file://{tmp_path / 'store'}"
    train.start_process_group(backend="gloo", init_method=store, rank=0, world_size=1)
    try:
        assert dist.is_initialized()
        assert [fn for fn, _ in registered] == [train.end_process_group]
        fn, args = registered[0]
        fn(*args)  # what the interpreter runs at exit
        assert not dist.is_initialized()
        fn(*args)  # a second end (the caller ended it already) is a no-op
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_an_exit_hook_leaves_a_group_someone_else_started_alone(tmp_path):
    dist.init_process_group(backend="gloo", init_method=f"file://{tmp_path / 'a'}", rank=0, world_size=1)
    try:
        train.end_process_group(object())  # the hook of an earlier, already ended group
        assert dist.is_initialized()
    finally:
        dist.destroy_process_group()
