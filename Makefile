# Thin wrapper: `make run` builds and runs the flagship model, `make test` builds and runs the tests.
BUILD ?= build
JOBS  ?= $(shell nproc)
MODEL ?= configs/coba.yaml

.PHONY: all deps build run test clean

all: build

deps:
	./tools/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

run: build
	mkdir -p out
	./$(BUILD)/volley run $(MODEL) -o out/$(basename $(notdir $(MODEL))).h5

test: build
	ctest --test-dir $(BUILD) --output-on-failure

clean:
	rm -rf $(BUILD) out
