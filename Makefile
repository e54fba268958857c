# Gouji: the two commands a newcomer needs are `make demo` (main job) and `make test` (all tests).
.PHONY: build demo test test-rust test-python bench fmt lint rules-doc

build:
	cargo build --workspace --all-targets

## Main job: start the validation service on loopback, validate samples/ (and ../shared/seeds), stop.
demo: build
	./target/debug/gouji demo

## Every test: Rust unit/integration/property tests, then external clients (grpcurl, Python grpcio) and Helm.
test: build test-rust test-python

## Rust tests; the storage and end-to-end suites also run on a throwaway PostgreSQL.
test-rust:
	scripts/ci/with-postgres.sh cargo test --workspace

test-python:
	GOUJI_BIN_DIR=$(CURDIR)/target/debug scripts/ci/python-tests.sh -q

bench:
	cargo bench -p gouji-domain --bench parse_validate

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets

## Regenerate docs/rules.md from the rule catalog.
rules-doc: build
	./target/debug/gouji rules > docs/rules.md
