"""The README's promises: its curl session works verbatim against a live server with the real model."""
import os
import re
import subprocess
from pathlib import Path

import pytest
import soundfile as sf

README = Path(__file__).resolve().parents[3] / "README.md"



def curl_session() -> str:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- curl-session:start -->\n```bash\n(.*?)```\n<!-- curl-session:end -->", text, re.S)
    assert block, "README has no curl session block"
    return block.group(1)


@pytest.mark.real_model
@pytest.mark.django_db(transaction=True)
def test_readme_curl_session_runs_verbatim(live_server, installed_model, tmp_path):
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", curl_session()],
        cwd=tmp_path,
        env={**os.environ, "BASE": live_server.url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"status":"COMPLETED"' in result.stdout
    assert '"pattern":"harbour","replacement":"/hˈɑːɹbɚ/","case_sensitive":false,"kind":"phonemes"' in result.stdout
    assert '"voice":"jf_alpha:0.6+jm_kumo:0.4"' in result.stdout
    spoken = '"spoken_text":"The /hˈɑːɹbɚ/ lights came on at six thirty on the fourth of May, eighteen fifteen."'
    assert spoken in result.stdout
    info = sf.info(tmp_path / "first.wav")
    assert info.samplerate == 24000 and info.duration > 1.0
    assert "first.wav:" in result.stdout and "24000 Hz" in result.stdout


def test_readme_names_both_setup_commands_and_they_exist():
    text = README.read_text(encoding="utf-8")
    for script in ("scripts/run", "scripts/test"):
        assert script in text
        assert (README.parent / script).is_file()
    assert "scripts/test" in (README.parent / ".ci" / "run").read_text()
