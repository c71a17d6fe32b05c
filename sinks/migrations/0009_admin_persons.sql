-- One person per human across credentials. Four-eyes, self-revoke and idempotency compare
-- persons, so every credential must resolve to one: a CLI token is issued to a person
-- (admin_tokens.actor), and an identity-provider identity (issuer, subject) is enrolled to a
-- person here (``jackpot admin identity link``). A JWT whose identity is not enrolled is refused.
-- One subject per person and issuer: a human cannot hold two unrelated identities at one IdP.

CREATE TABLE admin_identities (
    issuer          text        NOT NULL,
    subject         text        NOT NULL,
    person          text        NOT NULL,
    linked_at       timestamptz NOT NULL DEFAULT now(),
    linked_by       text        NOT NULL,
    PRIMARY KEY (issuer, subject),
    UNIQUE (issuer, person)
);

-- Person ids are compared exactly: store them in one canonical form (trimmed, lower case).
UPDATE admin_tokens SET actor = lower(btrim(actor)) WHERE actor <> lower(btrim(actor));

-- A stored idempotent answer is replayed only to the same person, and only to a credential whose
-- brand scope covers the one that produced it (NULL brands: an answer stored before this column).
ALTER TABLE admin_idempotency
    ADD COLUMN credential text,
    ADD COLUMN brands     text[],
    ADD COLUMN all_brands boolean NOT NULL DEFAULT false;

-- Four-eyes requests: void_win | emergency_shutdown | lift_shutdown.
CREATE INDEX admin_co_approvals_action ON admin_co_approvals (action, state);
