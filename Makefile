# Thin wrapper: `make run` builds and runs the flagship model (the spiking PFC model solving
# AX-CPT, about a minute on 2 cores) and prints its report; `make test` builds and runs the tests.
# `make run MODEL=configs/coba.yaml` runs another model.
BUILD ?= build
JOBS  ?= $(shell nproc)
MODEL ?= configs/pfc_axcpt.yaml
OUTPUT = out/$(basename $(notdir $(MODEL))).h5

.PHONY: all deps build run test clean

all: build

deps:
	./tools/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

run: build
	mkdir -p out
	./$(BUILD)/volley run $(MODEL) -o $(OUTPUT)
	@if [ "$(MODEL)" = "configs/pfc_axcpt.yaml" ]; then \
	  /usr/bin/python3 tools/axcpt_report.py $(OUTPUT) --target resp.target --nontarget resp.nontarget \
	    --memory A=pfc.A --memory B=pfc.B --figure out/pfc_axcpt.png; fi

test: build
	ctest --test-dir $(BUILD) --output-on-failure

clean:
	rm -rf $(BUILD) out
