# Course Seckill. `make run` starts the whole stack, `make test` proves it.
# Ports and paths come from the environment (README: "Ports and knobs").

SHELL := /bin/sh
TOP   := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
# The stack: RUN=DIR or SECKILL_RUN=DIR (README: "Ports and knobs").
RUN   ?= $(or $(SECKILL_RUN),$(TOP)/run)
BUILD := $(TOP)/build
export SECKILL_RUN := $(RUN)

.PHONY: all init build module cli run stop reload status reset check test bench clean

all: build

init:
	@sh deploy/install.sh

build: init module cli

module:
	@sh deploy/build-module.sh

cli:
	@$(MAKE) -s -C consumer BUILD=$(BUILD)

run: build
	@sh deploy/stack.sh up

stop:
	@sh deploy/stack.sh down

reload:
	@sh deploy/nginx.sh reload

status:
	@sh deploy/stack.sh status

reset: cli
	@YES=$(YES) sh deploy/stack.sh reset

check: cli
	@sh deploy/stack.sh cli check

# TESTS="t/011-purchase-faults.t t/051-guards.t": only those files (no page)
test: build
	@TESTS="$(TESTS)" sh t/run.sh

bench: run
	@sh bench/run.sh

clean:
	@YES=$(YES) sh deploy/stack.sh clean
	rm -rf $(BUILD)
