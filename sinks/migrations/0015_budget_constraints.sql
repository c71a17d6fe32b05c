-- Budget Constraint Mode (spec: Budget Model): optional operator-wide limits per currency, set
-- through the admin API (audited). NULL = no limit. sinks/budget.py evaluates them.
CREATE TABLE budget_constraints (
    currency            char(3)     PRIMARY KEY,
    max_monthly_cost    numeric(20,6) CHECK (max_monthly_cost >= 0),
    max_single_prize    numeric(20,6) CHECK (max_single_prize > 0),
    max_chain_monthly   numeric(20,6) CHECK (max_chain_monthly >= 0),
    pause_activations   boolean     NOT NULL DEFAULT false,
    updated_by          text        NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
