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
# Where `make install` puts refnet, and the staging root packagers give.
PREFIX  ?= /usr/local
DESTDIR ?=

# cmake --build runs make again below this one: it prints what it builds,
# not the directories it enters.
MAKEFLAGS += --no-print-directory

# The plain build's configuration (gcc, optimised, with debug information).
CONFIGURE_PLAIN = $(CMAKE) -S . -B $(BUILD) -DCMAKE_C_COMPILER=gcc \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps build check test test-unit test-asan test-tsan test-plain demo bench fuzz clean \
	install uninstall

all: build

deps:
	@sh scripts/deps.sh

# The structure the code must keep (docs/design.md, "Layers"): includes
# point down the layers and never into another folder's private header;
# every public function states its contract; every symbol is rn_ (public),
# rn__ (shared) or static.  The last reads the built libraries.
check: build
	@python3 scripts/check-layers.py
	@python3 scripts/check-api.py
	@python3 scripts/check-names.py $(BUILD)

# Plain optimised build with gcc: build/bin/refnet, build/lib/librefnet.a
# and librefnet.so.
build: deps
	@$(CONFIGURE_PLAIN) >/dev/null
	@$(CMAKE) --build $(BUILD) -j $(JOBS)

# The loader finds a library in /usr/local/lib through its cache: refresh
# it after a real (not staged) install or uninstall by root.
LDCONFIG = if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

# Installs the libraries, headers, refnet.pc, the tool, its man pages and
# completion, the systemd unit and the examples under $(PREFIX), staged
# under $(DESTDIR) if given (README.md, "Installing and embedding").  Builds
# what it installs first; the prefix is configured, since refnet.pc and
# the unit name installed paths.
install: deps
	@$(CONFIGURE_PLAIN) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@$(CMAKE) --build $(BUILD) -j $(JOBS) --target refnet refnet-shared refnet-tool
	@DESTDIR=$(DESTDIR) $(CMAKE) --install $(BUILD)
	@$(LDCONFIG)

# Removes what the last `make install` put in place (build/install_manifest.txt),
# with the same DESTDIR; a defaults file the administrator changed stays.
uninstall:
	@m=$(BUILD)/install_manifest.txt; \
	if [ ! -f "$$m" ]; then \
	    echo "refnet: nothing to uninstall: $$m is missing (make install writes it)" >&2; \
	    exit 1; \
	fi; \
	while IFS= read -r f || [ -n "$$f" ]; do \
	    f="$(DESTDIR)$$f"; \
	    case "$$f" in \
	    */default/refnet) \
	        if [ -f "$$f" ] && ! cmp -s "$$f" dist/refnet.default; then \
	            echo "refnet: keeping $$f: it was changed"; continue; \
	        fi;; \
	    esac; \
	    [ -e "$$f" ] || [ -L "$$f" ] || continue; \
	    echo "-- Removing: $$f"; rm -f "$$f"; \
	done < "$$m"; \
	for d in $$(sed -n 's|/[^/]*$$||p' "$$m" | sort -ru); do \
	    while case "$$d" in */refnet|*/refnet/*) true;; *) false;; esac; do \
	        rmdir "$(DESTDIR)$$d" 2>/dev/null || break; \
	        d=$${d%/*}; \
	    done; \
	done; \
	$(LDCONFIG)

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
	@echo "== structure: layers, public API, symbol names"
	@$(MAKE) check
	@echo "== unit tests, ASan+UBSan (clang)"
	@# The seeded TCP transfers run 20 seeds each here, every seed in the
	@# optimised build below: the sanitizers look at the same code paths.
	@cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    REFNET_TCP_SEEDS=20 ctest -L unit --output-on-failure -j $(JOBS)
	@echo "== concurrency tests, TSan (gcc)"
	@cd $(TSAN) && TSAN_OPTIONS=halt_on_error=1 ctest -L mt --output-on-failure
	@echo "== the daemon under ASan+UBSan against Linux: programs under refnet run, TCP sending"
	@# A subset: the daemon's own memory errors (a socket of refnet run's
	@# server read after it was freed went unseen in the optimised build).
	@# test_heap_return measures RSS, which ASan's quarantine makes moot.
	@cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    ctest -R '^net-test_(run_.*|send_200m|faults|http|ipv6_tcp|discard_1g)$$' --output-on-failure -j 1
	@echo "== unit and scripted tests, optimised build (gcc)"
	@cd $(BUILD) && ctest --output-on-failure -j 1
	@echo "== the tests against Linux again, the daemon with one loop (--rss off)"
	@cd $(BUILD) && REFNET_TEST_RSS=off ctest -L net --output-on-failure -j 1
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
