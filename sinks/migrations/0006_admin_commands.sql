-- Operator commands sent by the admin API: who sent which command to which jackpot, so a
-- command's status can be looked up by id without scanning the audit trail. The engine's
-- answer (applied or refused, and when) is in operator_actions, keyed by the same command id.

CREATE TABLE admin_commands (
    command_id      uuid        PRIMARY KEY,
    jackpot_id      text        NOT NULL,
    action          text        NOT NULL,
    actor           text        NOT NULL,
    request_id      text        NOT NULL,
    sent_at         timestamptz NOT NULL
);
CREATE INDEX admin_commands_jackpot ON admin_commands (jackpot_id, sent_at DESC);
CREATE INDEX operator_actions_command ON operator_actions (command_id);
