"""The documentation that mirrors the programs must match them."""
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("FLYTRAP_BUILD", "build")
FLYTRAPCTL = os.path.join(ROOT, BUILD, "bin", "flytrapctl")


def test_config_doc_lists_every_option_with_its_default():
    defaults = subprocess.run([FLYTRAPCTL, "config", "defaults"], check=True,
                              capture_output=True, text=True).stdout
    with open(os.path.join(ROOT, "docs", "CONFIG.md"), encoding="utf-8") as f:
        doc = f.read()
    block = doc.split("```ini\n", 1)[1].split("```", 1)[0]
    assert block == defaults, (
        "docs/CONFIG.md is stale: regenerate its ini block with "
        "'flytrapctl config defaults'")


def test_config_defaults_load_back(tmp_path):
    """What 'config defaults' prints is itself a valid configuration."""
    path = tmp_path / "defaults.conf"
    path.write_text(subprocess.run([FLYTRAPCTL, "config", "defaults"],
                                   check=True, capture_output=True,
                                   text=True).stdout)
    out = subprocess.run([FLYTRAPCTL, "config", "check", str(path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "OK" in out.stdout
