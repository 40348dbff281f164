"""API keys: hashed at rest, mapped to tenants, revocable on every replica, never logged."""

from __future__ import annotations

import hashlib
import json
import logging

import pytest

from router.budgets import hash_key
from router.errors import AuthenticationFailed
from tests.router.budgets.conftest import ServiceFactory, make_policy

TENANTS = {"acme": {}, "globex": {}}


def _bearer(key: str) -> str:
    return f"Bearer {key}"


async def test_keys_map_to_their_tenant_and_revoked_or_wrong_keys_are_401(make_service: ServiceFactory) -> None:
    service = make_service(TENANTS, allow_anonymous=False)
    acme_key, acme_id = await service.keys.create("acme")
    globex_key, _ = await service.keys.create("globex")
    assert await service.authenticate(_bearer(acme_key)) == "acme"
    assert await service.authenticate(f"bearer  {globex_key} ") == "globex"
    for header in (None, "", "Bearer ", "Basic abc", _bearer("tr-wrong"), _bearer(acme_key + "x")):
        with pytest.raises(AuthenticationFailed):
            await service.authenticate(header)
    assert await service.keys.revoke(acme_id)
    assert not await service.keys.revoke("k-no-such-key")
    with pytest.raises(AuthenticationFailed, match="revoked"):
        await service.authenticate(_bearer(acme_key))
    assert await service.authenticate(_bearer(globex_key)) == "globex"


async def test_anonymous_use_when_the_policy_allows_it(make_service: ServiceFactory) -> None:
    service = make_service(TENANTS, allow_anonymous=True, anonymous_tenant="guest")
    assert await service.authenticate(None) == "guest"
    if not service.keys.shared:  # one replica, no keys anywhere: an SDK's placeholder key is anonymous too
        assert await service.authenticate(_bearer("sk-placeholder")) == "guest"
    key, _ = await service.keys.create("acme")
    assert await service.authenticate(_bearer(key)) == "acme"
    with pytest.raises(AuthenticationFailed):  # once keys exist, a wrong key is an error, not anonymous
        await service.authenticate(_bearer("sk-placeholder"))


async def test_keys_declared_in_the_policy_work_until_removed_or_revoked(make_service: ServiceFactory) -> None:
    key = "tr-declared-in-the-policy-0123456789"
    tenants = {"acme": {"api_key_hashes": [hash_key(key)]}}
    service = make_service(tenants, allow_anonymous=False)
    replica = make_service(tenants, allow_anonymous=False)
    assert await service.authenticate(_bearer(key)) == "acme"
    listed = await service.keys.list_keys("acme")
    assert [k["declared"] for k in listed] == [True]
    assert await service.keys.revoke(listed[0]["key_id"])
    for svc in (service, replica) if service.keys.shared else (service,):
        with pytest.raises(AuthenticationFailed):
            await svc.authenticate(_bearer(key))
    fresh = make_service(tenants, allow_anonymous=False)
    fresh.update_policy(make_policy({"acme": {}}))  # a reload that drops the hash
    with pytest.raises(AuthenticationFailed):
        await fresh.authenticate(_bearer(key))


async def test_a_key_created_or_revoked_on_one_replica_counts_on_every_replica(make_service: ServiceFactory) -> None:
    one, two = make_service(TENANTS, allow_anonymous=False), make_service(TENANTS, allow_anonymous=False)
    if not one.keys.shared:
        pytest.skip("in-process keys belong to one replica")
    key, kid = await one.keys.create("acme")
    assert await two.authenticate(_bearer(key)) == "acme"
    await two.keys.revoke(kid)
    with pytest.raises(AuthenticationFailed):
        await one.authenticate(_bearer(key))


async def test_the_pepper_is_part_of_the_hash(make_service: ServiceFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINKROUTE_KEY_PEPPER", "pepper-one")
    service = make_service(TENANTS, allow_anonymous=False)
    key, _ = await service.keys.create("acme")
    assert hash_key(key) == hashlib.sha256(("pepper-one" + key).encode()).hexdigest()
    assert await service.authenticate(_bearer(key)) == "acme"
    monkeypatch.setenv("THINKROUTE_KEY_PEPPER", "pepper-two")  # a stolen hash table is useless without it
    with pytest.raises(AuthenticationFailed):
        await service.authenticate(_bearer(key))


async def test_keys_and_hashes_never_reach_logs_or_listings(
    make_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service = make_service(TENANTS, allow_anonymous=False)
    key, kid = await service.keys.create("acme")
    await service.authenticate(_bearer(key))
    with pytest.raises(AuthenticationFailed) as info:
        await service.authenticate(_bearer(key + "typo"))
    await service.keys.revoke(kid)
    with pytest.raises(AuthenticationFailed):
        await service.authenticate(_bearer(key))
    listing = json.dumps(await service.keys.list_keys("acme"))
    secrets = (key, hash_key(key), key + "typo", hash_key(key + "typo"))
    for secret in secrets:
        assert secret not in caplog.text and secret not in listing and secret not in str(info.value)
    assert kid in listing
