# refnet: the project's face.  `make demo` runs the main job and `make test`
# runs every test; both install missing Debian packages first (silently when
# everything is present).  See README.md.

JOBS    ?= $(shell nproc)
CMAKE   ?= cmake
BUILD   ?= build
# The three unit-test variants and the fuzz build live beside build/.
ASAN    ?= build-asan
TSAN    ?= build-tsan
FUZZB   ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all deps build test test-unit test-asan test-tsan test-plain demo bench fuzz clean

all: build

deps:
	@sh scripts/deps.sh

# Plain optimised build with gcc: build/bin/refnet and build/lib/librefnet.a.
build: deps
	@$(CMAKE) -S . -B $(BUILD) -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@$(CMAKE) --build $(BUILD) -j $(JOBS)

# ASan + UBSan with clang, so that every change is also built by clang.
build-asan: deps
	@$(CMAKE) -S . -B $(ASAN) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	    -DREFNET_SANITIZE=address,undefined >/dev/null
	@$(CMAKE) --build $(ASAN) -j $(JOBS)

# TSan with gcc, for the concurrency tests.
build-tsan: deps
	@$(CMAKE) -S . -B $(TSAN) -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DREFNET_SANITIZE=thread >/dev/null
	@$(CMAKE) --build $(TSAN) -j $(JOBS)

build-fuzz: deps
	@$(CMAKE) -S . -B $(FUZZB) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DREFNET_FUZZ=ON >/dev/null
	@$(CMAKE) --build $(FUZZB) -j $(JOBS)

# Every test: unit tests three ways, then the scripted tests (CLI, the real
# Linux peer in network namespaces, the simulator), then a short fuzz run.
test: build build-asan build-tsan build-fuzz
	@echo "== unit tests, ASan+UBSan (clang)"
	@cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    ctest -L unit --output-on-failure -j $(JOBS)
	@echo "== concurrency tests, TSan (gcc)"
	@cd $(TSAN) && TSAN_OPTIONS=halt_on_error=1 ctest -L mt --output-on-failure
	@echo "== unit and scripted tests, optimised build (gcc)"
	@cd $(BUILD) && ctest --output-on-failure -j 1
	@echo "== fuzzing, $(FUZZ_CI_SECONDS)s per target"
	@sh scripts/fuzz.sh $(FUZZB) $(FUZZ_CI_SECONDS)

FUZZ_CI_SECONDS ?= 30

demo: build
	@bash scripts/demo.sh $(BUILD)

bench: build
	@bash scripts/bench.sh $(BUILD)

fuzz: build-fuzz
	@sh scripts/fuzz.sh $(FUZZB) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN) $(TSAN) $(FUZZB)
