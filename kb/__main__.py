"""``python -m kb``: the same command as ``kb``."""

from .cli import main

if __name__ == "__main__":  # pragma: no cover - run as a module
    main(prog_name="kb")
