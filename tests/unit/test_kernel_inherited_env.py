"""Which of the server's environment variables a kernel inherits."""

from __future__ import annotations

from collab_server.kernels.environment import DEFAULT_DROP, inherited_environment

SERVER = {
    "PATH": "/usr/bin",
    "HOME": "/home/server",
    "LANG": "C.UTF-8",
    "COLLAB_SERVER_TOKEN": "the-server-key",
    "COLLAB_JWT_SECRET": "signs-everyone",
    "AWS_SECRET_ACCESS_KEY": "cloud",
    "AWS_ACCESS_KEY_ID": "cloud-id",
    "github_token": "lower case too",
    "DB_PASSWORD": "hunter2",
    "GOOGLE_APPLICATION_CREDENTIALS": "/keys.json",
    "JUPYTERHUB_API_TOKEN": "hub",
}


def test_names_that_look_like_secrets_and_the_servers_own_settings_are_dropped() -> None:
    assert inherited_environment(SERVER) == {
        "PATH": "/usr/bin",
        "HOME": "/home/server",
        "LANG": "C.UTF-8",
    }


def test_an_operator_keeps_names_and_chooses_the_patterns() -> None:
    kept = inherited_environment(SERVER, keep=["JUPYTERHUB_API_TOKEN", "aws_*"])
    assert set(kept) == {
        "PATH",
        "HOME",
        "LANG",
        "JUPYTERHUB_API_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
    }
    only_home = inherited_environment(SERVER, drop=["HOME"])
    assert "HOME" not in only_home and only_home["DB_PASSWORD"] == "hunter2"
    assert inherited_environment(SERVER, drop=[]) == SERVER


def test_the_defaults_are_the_documented_ones() -> None:
    assert {"*TOKEN*", "*SECRET*", "*PASSWORD*", "*KEY*", "COLLAB_*"} <= set(DEFAULT_DROP)
