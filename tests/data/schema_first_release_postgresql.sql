--
-- PostgreSQL database dump
--


-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: contracts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.contracts (
    id text NOT NULL,
    composite_id text,
    contract_name text,
    contract_status text,
    contract_type_id integer,
    contract_type_name text,
    counter_party_name text,
    reference_id text,
    created text,
    key_pointers json,
    record json NOT NULL,
    synced_at timestamp without time zone NOT NULL,
    deleted_at timestamp without time zone,
    seen_in_pass text
);


--
-- Name: COLUMN contracts.id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.contracts.id IS 'SpotDraft''s contract id, as text';


--
-- Name: COLUMN contracts.composite_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.contracts.composite_id IS 'T-<id> or H-<id>, as the per-contract endpoints take it';


--
-- Name: COLUMN contracts.key_pointers; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.contracts.key_pointers IS 'as received; NULL when enrichment failed (see dead_letters)';


--
-- Name: COLUMN contracts.record; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.contracts.record IS 'the list answer''s record, as received';


--
-- Name: COLUMN contracts.deleted_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.contracts.deleted_at IS 'set by a full refresh when the contract is gone upstream';


--
-- Name: COLUMN contracts.seen_in_pass; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.contracts.seen_in_pass IS 'id of the last sync pass that read this contract';


--
-- Name: counterparties; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.counterparties (
    id text NOT NULL,
    name text,
    is_individual boolean,
    record json NOT NULL,
    synced_at timestamp without time zone NOT NULL
);


--
-- Name: created_contracts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.created_contracts (
    external_id text NOT NULL,
    contract_id text NOT NULL,
    template_id integer,
    contract_name text,
    outcome text NOT NULL,
    record json,
    flow_run_id text,
    created_at timestamp without time zone NOT NULL
);


--
-- Name: COLUMN created_contracts.external_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.created_contracts.external_id IS 'the upstream record''s id';


--
-- Name: COLUMN created_contracts.contract_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.created_contracts.contract_id IS 'SpotDraft''s contract id';


--
-- Name: COLUMN created_contracts.outcome; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.created_contracts.outcome IS 'created, or found (it existed already)';


--
-- Name: dead_letters; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.dead_letters (
    id integer NOT NULL,
    operation text NOT NULL,
    target text,
    inputs json NOT NULL,
    error_class text NOT NULL,
    error_message text NOT NULL,
    advice text,
    context json,
    attempts integer NOT NULL,
    flow_name text,
    flow_run_id text,
    created_at timestamp without time zone NOT NULL,
    status text NOT NULL,
    decided_by text,
    decided_at timestamp without time zone,
    outcome json
);


--
-- Name: COLUMN dead_letters.operation; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.dead_letters.operation IS 'catalog operation (task) name';


--
-- Name: COLUMN dead_letters.target; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.dead_letters.target IS 'what it was about: a composite id, an external id, a page';


--
-- Name: COLUMN dead_letters.inputs; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.dead_letters.inputs IS 'the operation''s inputs, no secret';


--
-- Name: COLUMN dead_letters.context; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.dead_letters.context IS 'host, method, path, status, request id, workspace, ... body';


--
-- Name: COLUMN dead_letters.status; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.dead_letters.status IS 'pending, replayed or discarded';


--
-- Name: COLUMN dead_letters.outcome; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.dead_letters.outcome IS 'the replay''s result or its new error';


--
-- Name: dead_letters_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.dead_letters_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: dead_letters_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.dead_letters_id_seq OWNED BY public.dead_letters.id;


--
-- Name: sync_state; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sync_state (
    name text NOT NULL,
    watermark timestamp without time zone,
    pass_id text,
    pass_started_at timestamp without time zone,
    pass_since timestamp without time zone,
    pass_full boolean NOT NULL,
    next_page integer NOT NULL,
    page_total integer,
    updated_at timestamp without time zone NOT NULL
);


--
-- Name: COLUMN sync_state.watermark; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_state.watermark IS 'start of the last complete pass; next pass reads from here';


--
-- Name: COLUMN sync_state.pass_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_state.pass_id IS 'the pass under way; NULL when none is';


--
-- Name: COLUMN sync_state.pass_since; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_state.pass_since IS 'the pass''s last_updated_on filter; NULL = everything';


--
-- Name: COLUMN sync_state.page_total; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_state.page_total IS 'total_results seen on the last committed page';


--
-- Name: templates; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.templates (
    id text NOT NULL,
    name text,
    contract_type_id integer,
    record json NOT NULL,
    synced_at timestamp without time zone NOT NULL
);


--
-- Name: dead_letters id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.dead_letters ALTER COLUMN id SET DEFAULT nextval('public.dead_letters_id_seq'::regclass);


--
-- Data for Name: contracts; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.contracts VALUES ('101', 'T-101', 'NDA – Ünïcode GmbH', 'EXECUTED', 7, 'NDA', 'Ünïcode GmbH', 'R-1', '2024-01-02T03:04:05Z', '[{"label": "Term", "value": "2y"}]', '{"id": 101, "contract_name": "NDA \u2013 \u00dcn\u00efcode GmbH", "nested": {"a": [1, 2, null]}}', '2024-01-02 03:04:05.123456', NULL, 'pass-1');
INSERT INTO public.contracts VALUES ('102', 'H-102', NULL, 'DRAFT', NULL, NULL, NULL, NULL, NULL, 'null', '{"id": 102}', '2024-01-03 00:00:00', '2024-02-01 12:00:00', NULL);


--
-- Data for Name: counterparties; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.counterparties VALUES ('c1', 'Acme', false, '{"id": "c1"}', '2024-01-04 00:00:00');
INSERT INTO public.counterparties VALUES ('c2', 'Jane O''Neil', true, '{"id": "c2", "x": "y"}', '2024-01-05 00:00:00');


--
-- Data for Name: created_contracts; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.created_contracts VALUES ('crm-1', '201', 3, 'MSA Acme', 'created', '{"external_id": "crm-1"}', 'run-1', '2024-01-08 00:00:00');
INSERT INTO public.created_contracts VALUES ('crm-2', '202', NULL, NULL, 'found', 'null', NULL, '2024-01-09 00:00:00');


--
-- Data for Name: dead_letters; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.dead_letters VALUES (1, 'get_contract', 'T-101', '{"composite_id": "T-101"}', 'SpotDraftServerError', '503 Service Unavailable', 'retry later', '{"status": 503, "path": "/api/v2.1/public/contracts/T-101"}', 4, 'sync-contracts', 'run-3', '2024-01-11 00:00:00', 'pending', NULL, NULL, 'null');
INSERT INTO public.dead_letters VALUES (2, 'create_contract', 'crm-4', '{"external_id": "crm-4"}', 'SpotDraftValidationError', '400', NULL, 'null', 1, 'create-contracts', 'run-5', '2024-01-13 00:00:00', 'replayed', 'ops@example.com', '2024-01-14 00:00:00', '{"contract_id": "203"}');


--
-- Data for Name: sync_state; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.sync_state VALUES ('contracts', '2024-01-01 00:00:00', 'pass-2', '2024-01-07 00:00:00', NULL, true, 3, 250, '2024-01-07 01:00:00');


--
-- Data for Name: templates; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.templates VALUES ('t1', 'MSA', 3, '{"id": "t1"}', '2024-01-06 00:00:00');


--
-- Name: dead_letters_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.dead_letters_id_seq', 2, true);


--
-- Name: contracts contracts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.contracts
    ADD CONSTRAINT contracts_pkey PRIMARY KEY (id);


--
-- Name: counterparties counterparties_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.counterparties
    ADD CONSTRAINT counterparties_pkey PRIMARY KEY (id);


--
-- Name: created_contracts created_contracts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.created_contracts
    ADD CONSTRAINT created_contracts_pkey PRIMARY KEY (external_id);


--
-- Name: dead_letters dead_letters_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.dead_letters
    ADD CONSTRAINT dead_letters_pkey PRIMARY KEY (id);


--
-- Name: sync_state sync_state_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_state
    ADD CONSTRAINT sync_state_pkey PRIMARY KEY (name);


--
-- Name: templates templates_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.templates
    ADD CONSTRAINT templates_pkey PRIMARY KEY (id);


--
-- Name: ix_dead_letters_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_dead_letters_status ON public.dead_letters USING btree (status);


--
-- PostgreSQL database dump complete
--


