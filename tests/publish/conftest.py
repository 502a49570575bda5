import importlib.util
import sys
from pathlib import Path


def _awsloop():
    # The AWS fixtures live beside the aws tests; load that one module, once.
    if "awsloop" not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "aws" / "awsloop.py"
        spec = importlib.util.spec_from_file_location("awsloop", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["awsloop"] = module
        spec.loader.exec_module(module)
    return sys.modules["awsloop"]


aws = _awsloop().aws
moto_url = _awsloop().moto_url
