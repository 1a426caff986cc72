"""Write a new migration from the difference between the models and the current migrations.

    python -m osint.storage.migrations "add monitor jobs"

Autogenerates against a scratch SQLite database upgraded to the current head, then numbers the
revision after the last one. Read the generated file before committing it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from osint.storage.db import MIGRATIONS_DIR, _alembic_config


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        with engine.begin() as conn:
            cfg = _alembic_config(conn)
            script = ScriptDirectory.from_config(cfg)
            heads = [r for r in script.walk_revisions()]
            command.upgrade(cfg, "head")
            rev_id = f"{len(heads) + 1:04d}"
            command.revision(cfg, message=argv[0], autogenerate=True, rev_id=rev_id)
        engine.dispose()
    subprocess.run(["ruff", "format", str(MIGRATIONS_DIR / "versions")], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
