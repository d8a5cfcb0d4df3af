# Thin wrapper: the real steps live in scripts/ so CI and people run the
# same thing.  See README.md.
.PHONY: all run test bench clean

all:
	scripts/deps.sh run
	scripts/build.sh

# make run OPENHIM=standin: the same, wired to the OpenHIM stand-in
# (scripts/openhim-standin.sh; README "OpenHIM hand-off").
run:
	@if [ "$(OPENHIM)" = standin ]; then scripts/openhim-standin.sh; \
	elif [ -n "$(OPENHIM)" ]; then \
		echo "OPENHIM=$(OPENHIM): only 'standin' is known" >&2; exit 2; \
	else scripts/run.sh; fi

test:
	scripts/test.sh

bench:
	scripts/bench.sh

clean:
	rm -rf build build-asan build-clang build-tsan
