import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"


@pytest.fixture
def root():
    return ROOT


@pytest.fixture
def shared_circuits():
    path = SHARED / "bench" / "circuits"
    if not path.is_dir():
        pytest.skip(f"{path} is missing (the shared benchmark files sit beside the checkout)")
    return path
