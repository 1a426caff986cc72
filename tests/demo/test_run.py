"""``osint demo`` end to end, and the README's two commands for a newcomer."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from osint.config import Settings, load_settings
from osint.demo import run as demo_module
from osint.demo.run import demo_platforms, run_demo
from osint.demo.scenario import Scenario, build_scenario
from osint.demo.world import platform_handle
from osint.errors import VerifyError
from osint.storage.db import Store
from osint.storage.models import Account, Post, PostMedia
from osint.store import open_store

REPO = Path(__file__).resolve().parents[2]


def readme_commands() -> tuple[str, str]:
    """The first code block of the README: install-and-demo, then the test command."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"```(?:sh|bash)?\n(.*?)```", text, re.S)
    assert block, "README.md must open with a code block holding the two commands"
    lines = [ln.strip() for ln in block.group(1).splitlines() if ln.strip()]
    assert len(lines) == 2, f"expected two commands, found {lines}"
    return lines[0], lines[1]


def test_scenario_is_deterministic() -> None:
    a, b = build_scenario(), build_scenario()
    assert [m.key for m in a.messages] == [m.key for m in b.messages]
    assert a.images["grave_1_copy_2"] == b.images["grave_1_copy_2"]
    assert sum(len(v) for v in a.images.values()) < 20 * 1024 * 1024


def test_run_demo_times_its_parts_and_verifies_its_bundle(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    result = run_demo(store, settings, out=tmp_path / "demo", scenario=build_scenario(organic=3))
    parts = list(result.timings)
    assert parts[:2] == ["draw images", "build world"]
    assert parts[-4:] == ["analyze", "report", "bundle", "verify"]
    assert {"collect x", "collect telegram", "collect mastodon"} <= set(parts)
    assert all(t >= 0 for t in result.timings.values())
    assert sum(result.timings.values()) <= result.seconds
    with zipfile.ZipFile(result.bundle) as bundle:
        listed = json.loads(bundle.read("manifest.json"))["files"]
    assert result.files_verified == len(listed) > 0


def test_run_demo_refuses_a_bundle_that_does_not_verify(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_export = demo_module.export_bundle

    def export_then_damage(*args: object, **kwargs: object) -> object:
        written = real_export(*args, **kwargs)  # type: ignore[arg-type]
        with zipfile.ZipFile(written.path) as bundle:
            member = next(i for i in bundle.infolist() if i.compress_type == zipfile.ZIP_STORED)
            offset = member.header_offset + 30 + len(member.filename) + len(member.extra)
        data = bytearray(written.path.read_bytes())
        data[offset + member.compress_size // 2] ^= 0xFF  # one bit rot inside a member
        written.path.write_bytes(bytes(data))
        return written

    monkeypatch.setattr(demo_module, "export_bundle", export_then_damage)
    with pytest.raises(VerifyError, match=r"the demo's own bundle .* failed verification"):
        run_demo(store, settings, out=tmp_path / "demo", scenario=build_scenario(organic=3))


@pytest.fixture(scope="module")
def demo_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One real ``osint demo`` run (the installed console script), shared by the checks below."""
    out = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSINT_")}
    exe = Path(sys.executable).with_name("osint")
    result = subprocess.run(
        [str(exe), "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=out,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return out, result


def test_demo_collects_every_account_of_the_world(demo_run, demo_scenario: Scenario) -> None:
    out, result = demo_run
    scenario = demo_scenario
    platforms = demo_platforms()
    personas = [p for p in scenario.personas.values() if p.platform in platforms]
    messages = [m for m in scenario.messages if m.platform in platforms]
    store = open_store(load_settings(home=out / "home", environ={}))
    with store.reader() as s:
        handles = set(s.execute(select(Account.handle)).scalars())
        posts = s.execute(select(func.count()).select_from(Post)).scalar_one()
    store.dispose()
    assert handles == {platform_handle(p) for p in personas}
    assert posts == len(messages)
    assert "dia_diarra" in handles
    assert f"{len(personas)} accounts" in result.stdout


def test_demo_traces_the_grave_pictures_to_the_source(demo_run, demo_scenario: Scenario) -> None:
    """The source's pictures stay linked to their files though the amplifiers' timelines expand
    its posts without their media, so the summary names it as the first poster."""
    out, result = demo_run
    source = demo_scenario.truth.source
    store = open_store(load_settings(home=out / "home", environ={}))
    with store.reader() as s:
        links = s.execute(
            select(PostMedia.media_id, PostMedia.error)
            .join(Post, Post.id == PostMedia.post_id)
            .join(Account, Account.id == Post.account_id)
            .where(Account.handle == source)
        ).all()
    store.dispose()
    assert links and all(media_id is not None for media_id, _ in links), links
    pictures = [line for line in result.stdout.splitlines() if "images: Same picture" in line]
    assert len(pictures) >= 2
    assert all(f"first @{source} (x) in post" in line for line in pictures), pictures
    assert "claimed Bamako" in result.stdout  # the strongest timezone finding, explained


def test_demo_writes_a_report_and_a_bundle_that_verifies(demo_run) -> None:
    out, result = demo_run
    report, bundle = out / "report.html", out / "demo-bundle.zip"
    assert report.is_file() and "Dia Diarra" in report.read_text()
    assert str(bundle) in result.stdout
    exe = Path(sys.executable).with_name("osint")
    check = subprocess.run(
        [str(exe), "verify", str(bundle)], capture_output=True, text=True, timeout=300
    )
    assert check.returncode == 0, check.stdout + check.stderr


def _checkout_copy(dest: Path) -> None:
    """The project's files as a fresh clone would hold them (tracked and new, not ignored)."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():  # osint/collectors -> ../collectors and the like, as git keeps them
            target.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, target)


def test_readme_first_command_installs_and_runs_the_demo(tmp_path: Path) -> None:
    """The README's first line, verbatim, in a copy of the project: a new venv, the install from
    PyPI, then ``osint demo`` on the SQLite default with no OSINT_ setting inherited."""
    install, _ = readme_commands()
    assert "pip install" in install and install.endswith("osint demo")
    project = tmp_path / "osint"
    _checkout_copy(project)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSINT_") and k != "VIRTUAL_ENV"}
    result = subprocess.run(
        ["bash", "-c", install],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (project / ".venv" / "bin" / "osint").is_file()
    assert "dia_diarra" in result.stdout
    assert (project / "osint-demo" / "home" / "osint.db").is_file()
    assert (project / "osint-demo" / "report.html").is_file()
    assert (project / "osint-demo" / "demo-bundle.zip").is_file()


def test_readme_test_command_is_what_ci_runs() -> None:
    _, tests = readme_commands()
    assert tests in (REPO / ".ci" / "run").read_text()
