# Course Seckill. `make run` starts the whole stack, `make test` proves it.
# Ports and paths come from the environment (README: "Ports and knobs").

SHELL := /bin/sh
TOP   := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
RUN   ?= $(TOP)/run
BUILD := $(TOP)/build
export SECKILL_RUN := $(RUN)

CLI = $(BUILD)/bin/seckill -c $(RUN)/conf/consumer.conf

.PHONY: all init build module cli run stop status reset check test bench clean

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
	@echo
	@echo "Course Seckill is up: http://127.0.0.1:$${SECKILL_HTTP_PORT:-8080}/"

stop:
	@sh deploy/stack.sh down

status:
	@sh deploy/stack.sh status

reset: cli
	@$(CLI) reset

check: cli
	@$(CLI) check

test: build
	@sh t/run.sh

bench: run
	@sh bench/run.sh

clean:
	@sh deploy/stack.sh down
	rm -rf $(BUILD) $(RUN)
