"""Tests for the dataset cache's download, checksum and offline behaviour (no network used)."""

import hashlib
import io
import tarfile
import urllib.error

import pytest

from kiln.datasets import download

URL = "https://example.org/data/file.bin"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class FakeServer:
    """Stands in for `urllib.request.urlopen`: serves fixed bytes and counts requests."""

    def __init__(self, payload=None, error=None):
        self.payload, self.error, self.requests = payload, error, []

    def __call__(self, url, timeout=None):
        self.requests.append(url)
        if self.error is not None:
            raise self.error
        return io.BytesIO(self.payload)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KILN_DATASETS", str(tmp_path))
    return tmp_path


def serve(monkeypatch, **kwargs):
    server = FakeServer(**kwargs)
    monkeypatch.setattr(download.urllib.request, "urlopen", server)
    return server


def test_a_cached_file_with_the_right_checksum_is_reused_without_download(cache, monkeypatch):
    (cache / "set").mkdir()
    (cache / "set" / "file.bin").write_bytes(b"cached bytes")
    server = serve(monkeypatch, error=AssertionError("no download expected"))
    path = download.fetch("set/file.bin", URL, sha256(b"cached bytes"))
    assert path == cache / "set" / "file.bin" and server.requests == []


def test_a_missing_file_is_downloaded_verified_and_cached(cache, monkeypatch):
    server = serve(monkeypatch, payload=b"fresh data")
    path = download.fetch("set/file.bin", URL, sha256(b"fresh data"))
    assert path.read_bytes() == b"fresh data" and server.requests == [URL]
    assert download.fetch("set/file.bin", URL, sha256(b"fresh data")) == path
    assert server.requests == [URL]  # the second call reused the cache
    assert [p.name for p in path.parent.iterdir()] == ["file.bin"]  # no temporary file left


def test_a_download_with_the_wrong_checksum_is_refused_and_not_saved(cache, monkeypatch):
    serve(monkeypatch, payload=b"tampered")
    with pytest.raises(ValueError, match=r"has SHA-256 " + sha256(b"tampered") + ".*not saved"):
        download.fetch("set/file.bin", URL, sha256(b"genuine"))
    assert list((cache / "set").iterdir()) == []


def test_a_corrupt_cached_file_is_downloaded_again(cache, monkeypatch):
    (cache / "set").mkdir()
    (cache / "set" / "file.bin").write_bytes(b"trunc")
    server = serve(monkeypatch, payload=b"truncated no more")
    path = download.fetch("set/file.bin", URL, sha256(b"truncated no more"))
    assert path.read_bytes() == b"truncated no more" and server.requests == [URL]


def test_offline_without_the_file_the_error_says_which_file_to_put_where(cache, monkeypatch):
    serve(monkeypatch, error=urllib.error.URLError("Name or service not known"))
    with pytest.raises(download.DatasetUnavailableError) as info:
        download.fetch("set/file.bin", URL, sha256(b"anything"))
    message = str(info.value)
    assert f"Download {URL} and put it at {cache / 'set' / 'file.bin'}" in message
    assert "Name or service not known" in message and "KILN_DATASETS" in message
    assert isinstance(info.value, FileNotFoundError)


def test_offline_with_a_corrupt_file_the_error_gives_both_checksums(cache, monkeypatch):
    (cache / "file.bin").write_bytes(b"bad")
    serve(monkeypatch, error=urllib.error.URLError("offline"))
    expected = sha256(b"good")
    with pytest.raises(download.DatasetUnavailableError,
                       match=f"has SHA-256 {sha256(b'bad')}, not the expected {expected}"):
        download.fetch("file.bin", URL, expected)
    assert (cache / "file.bin").read_bytes() == b"bad"  # left alone for the user to inspect


def test_a_member_of_a_tgz_archive_is_extracted_and_its_checksum_checked(cache, monkeypatch):
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, data in [("data/readme.txt", b"ignore me"), ("data/table.csv", b"a,b\n1,2\n")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    serve(monkeypatch, payload=archive.getvalue())
    path = download.fetch("data/table.csv", URL, sha256(b"a,b\n1,2\n"),
                          archive_member="data/table.csv")
    assert path.read_bytes() == b"a,b\n1,2\n"
    with pytest.raises(download.DatasetUnavailableError, match=r"member 'data/missing\.csv'"):
        download.fetch("data/missing.csv", URL, sha256(b""), archive_member="data/missing.csv")


def test_fetch_rejects_a_malformed_checksum(cache):
    with pytest.raises(ValueError, match=r"Invalid sha256: expected 64 hexadecimal digits, but "
                                         r"received 'abc'"):
        download.fetch("file.bin", URL, "abc")
    with pytest.raises(ValueError, match=r"Invalid sha256"):
        download.fetch("file.bin", URL, "z" * 64)


def test_file_sha256_matches_hashlib(tmp_path):
    data = bytes(range(256)) * 5000
    (tmp_path / "blob").write_bytes(data)
    assert download.file_sha256(tmp_path / "blob") == hashlib.sha256(data).hexdigest()
