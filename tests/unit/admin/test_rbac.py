"""Roles build on each other exactly as the specification's RBAC table says; brand scope is strict."""

import pytest

from jackpot.gateway.admin.rbac import ROLE_PERMISSIONS, Permission as P, Principal, Role


def test_each_role_adds_to_the_one_before():
    v, o, m, a = (ROLE_PERMISSIONS[r] for r in (Role.VIEWER, Role.OPERATOR, Role.MANAGER, Role.ADMIN))
    assert v < o < m < a
    assert v == {P.DASHBOARD_READ, P.MONITOR_READ, P.REPORTS_READ}
    # campaigns: operators write rules and may stop them all; managers approve
    assert o - v == {P.PAUSE_RESUME, P.APPROVALS_DECIDE, P.CONTENT_MANAGE, P.CAMPAIGNS_EDIT}
    assert m - o == {P.JACKPOT_CONFIGURE, P.DROP_CONTROL, P.TEMPLATES_MANAGE, P.SIMULATION_RUN, P.CAMPAIGNS_APPROVE}
    assert a - m == {P.NO_WIN_MODE, P.MANUAL_ADJUST, P.VOID_WIN, P.PAYOUT_RESOLVE, P.FAULT_CLEAR, P.SYSTEM_CONTROL,
                     P.RBAC_MANAGE, P.AUDIT_READ}
    assert set(P) == a


def test_custom_role_has_exactly_its_permissions():
    p = Principal("t", "c", Role.CUSTOM, frozenset({"b"}), custom_permissions=frozenset({P.DROP_CONTROL}))
    assert p.can(P.DROP_CONTROL) and not p.can(P.DASHBOARD_READ)
    assert Principal("t", "c", Role.CUSTOM, frozenset({"b"})).permissions == frozenset()


def test_brand_scope_needs_every_brand_of_the_jackpot():
    m = Principal("t", "m", Role.MANAGER, frozenset({"a"}))
    assert m.in_scope(["a"])
    assert not m.in_scope(["b"])
    assert not m.in_scope(["a", "b"])  # a multi-brand jackpot also touches brand b
    assert not m.in_scope([])  # a jackpot without brands is nobody's
    everyone = Principal("t", "x", Role.ADMIN, all_brands=True)
    assert everyone.in_scope(["a", "b"]) and everyone.brand_label() == "*"


def test_person_ids_have_one_canonical_form():
    from jackpot.gateway.admin.rbac import person_id

    assert person_id(" Alice ") == person_id("alice") == "alice"
    for bad in ("", "  ", "al ice", "a" * 129, "-alice"):
        with pytest.raises(ValueError):
            person_id(bad)


def test_a_scope_covers_another_only_when_it_holds_all_its_brands():
    a = Principal("t", "p", Role.ADMIN, frozenset({"a"}))
    ab = Principal("t", "p", Role.ADMIN, frozenset({"a", "b"}))
    everyone = Principal("t", "p", Role.ADMIN, all_brands=True)
    assert ab.covers(["a"], False) and everyone.covers(None, True) and everyone.covers(["x"], False)
    assert not a.covers(["a", "b"], False) and not ab.covers([], True) and not a.covers(None, False)
