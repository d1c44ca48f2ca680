"""The built-in backend: scrypt hashes and the PLAIN/LOGIN exchanges."""

import base64

from pfx.smtpd.sasl_pfx import PfxBackend, make_hash, verify


def test_hash_shape_and_verify():
    h = make_hash("s3cret", ln=4)
    assert h.startswith("$scrypt$ln=4,r=8,p=1$")
    assert verify("s3cret", h)
    assert not verify("s3creT", h)
    assert make_hash("s3cret", ln=4) != h  # salted
    assert not verify("x", None) and not verify("x", "garbage") and not verify("x", "$scrypt$ln=99,r=8,p=1$AA$AA")


class Table:
    def __init__(self, d):
        self.d = d

    def lookup(self, key):
        return self.d.get(key)


def run(d):
    out = []
    d.addBoth(out.append)
    return out[0]


def test_local_domain_and_plain_authzid():
    backend = PfxBackend(Table({"bob@example.test": make_hash("pw", ln=4)}), local_domain="example.test")
    ex = backend.exchange("PLAIN")
    a = run(ex.first(base64.b64encode(b"\0bob\0pw").decode()))
    assert (a.kind, a.fields["user"]) == ("ok", "bob@example.test")
    a = run(backend.exchange("PLAIN").first(base64.b64encode(b"alice\0bob\0pw").decode()))
    assert a.kind == "fail"  # may not act for someone else
    a = run(backend.exchange("PLAIN").first(base64.b64encode(b"\0nosuch\0pw").decode()))
    assert a.kind == "fail"


def test_login_with_initial_username():
    backend = PfxBackend(Table({"bob": make_hash("pw", ln=4)}))
    ex = backend.exchange("LOGIN")
    assert run(ex.first(base64.b64encode(b"bob").decode())).data == "UGFzc3dvcmQ6"
    assert run(ex.next(base64.b64encode(b"pw").decode())).kind == "ok"
