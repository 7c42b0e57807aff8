BEGIN TRANSACTION;
CREATE TABLE contracts (
	id TEXT NOT NULL, 
	composite_id TEXT, 
	contract_name TEXT, 
	contract_status TEXT, 
	contract_type_id INTEGER, 
	contract_type_name TEXT, 
	counter_party_name TEXT, 
	reference_id TEXT, 
	created TEXT, 
	key_pointers JSON, 
	record JSON NOT NULL, 
	synced_at DATETIME NOT NULL, 
	deleted_at DATETIME, 
	seen_in_pass TEXT, 
	PRIMARY KEY (id)
);
INSERT INTO "contracts" VALUES('101','T-101','NDA – Ünïcode GmbH','EXECUTED',7,'NDA','Ünïcode GmbH','R-1','2024-01-02T03:04:05Z','[{"label": "Term", "value": "2y"}]','{"id": 101, "contract_name": "NDA \u2013 \u00dcn\u00efcode GmbH", "nested": {"a": [1, 2, null]}}','2024-01-02 03:04:05.123456',NULL,'pass-1');
INSERT INTO "contracts" VALUES('102','H-102',NULL,'DRAFT',NULL,NULL,NULL,NULL,NULL,'null','{"id": 102}','2024-01-03 00:00:00.000000','2024-02-01 12:00:00.000000',NULL);
CREATE TABLE counterparties (
	id TEXT NOT NULL, 
	name TEXT, 
	is_individual BOOLEAN, 
	record JSON NOT NULL, 
	synced_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "counterparties" VALUES('c1','Acme',0,'{"id": "c1"}','2024-01-04 00:00:00.000000');
INSERT INTO "counterparties" VALUES('c2','Jane O''Neil',1,'{"id": "c2", "x": "y"}','2024-01-05 00:00:00.000000');
CREATE TABLE created_contracts (
	external_id TEXT NOT NULL, 
	contract_id TEXT NOT NULL, 
	template_id INTEGER, 
	contract_name TEXT, 
	outcome TEXT NOT NULL, 
	sent_at DATETIME, 
	record JSON, 
	flow_run_id TEXT, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (external_id)
);
INSERT INTO "created_contracts" VALUES('crm-1','201',3,'MSA Acme','created','2024-01-08 00:00:00.000000','{"external_id": "crm-1"}','run-1','2024-01-08 00:00:00.000000');
INSERT INTO "created_contracts" VALUES('crm-2','202',NULL,NULL,'found',NULL,'null',NULL,'2024-01-09 00:00:00.000000');
CREATE TABLE dead_letters (
	id INTEGER NOT NULL, 
	operation TEXT NOT NULL, 
	target TEXT, 
	inputs JSON NOT NULL, 
	error_class TEXT NOT NULL, 
	error_message TEXT NOT NULL, 
	advice TEXT, 
	context JSON, 
	attempts INTEGER NOT NULL, 
	flow_name TEXT, 
	flow_run_id TEXT, 
	created_at DATETIME NOT NULL, 
	status TEXT NOT NULL, 
	decided_by TEXT, 
	decided_at DATETIME, 
	outcome JSON, 
	claimed_by TEXT, 
	claimed_until DATETIME, 
	PRIMARY KEY (id)
);
INSERT INTO "dead_letters" VALUES(1,'get_contract','T-101','{"composite_id": "T-101"}','SpotDraftServerError','503 Service Unavailable','retry later','{"status": 503, "path": "/api/v2.1/public/contracts/T-101"}',4,'sync-contracts','run-3','2024-01-11 00:00:00.000000','pending',NULL,NULL,'null','run-4','2024-01-12 00:00:00.000000');
INSERT INTO "dead_letters" VALUES(2,'create_contract','crm-4','{"external_id": "crm-4"}','SpotDraftValidationError','400',NULL,'null',1,'create-contracts','run-5','2024-01-13 00:00:00.000000','replayed','ops@example.com','2024-01-14 00:00:00.000000','{"contract_id": "203"}',NULL,NULL);
CREATE TABLE record_leases (
	"key" TEXT NOT NULL, 
	holder TEXT NOT NULL, 
	expires_at DATETIME NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "record_leases" VALUES('create:crm-3','run-2','2024-01-10 00:00:00.000000');
CREATE TABLE sync_state (
	name TEXT NOT NULL, 
	watermark DATETIME, 
	pass_id TEXT, 
	pass_started_at DATETIME, 
	pass_since DATETIME, 
	pass_full BOOLEAN NOT NULL, 
	next_page INTEGER NOT NULL, 
	page_total INTEGER, 
	page_size INTEGER, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (name)
);
INSERT INTO "sync_state" VALUES('contracts','2024-01-01 00:00:00.000000','pass-2','2024-01-07 00:00:00.000000',NULL,1,3,250,100,'2024-01-07 01:00:00.000000');
CREATE TABLE templates (
	id TEXT NOT NULL, 
	name TEXT, 
	contract_type_id INTEGER, 
	record JSON NOT NULL, 
	synced_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "templates" VALUES('t1','MSA',3,'{"id": "t1"}','2024-01-06 00:00:00.000000');
CREATE INDEX ix_dead_letters_status ON dead_letters (status);
COMMIT;
