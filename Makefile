# Thin wrapper: the real steps live in scripts/ so CI and people run the
# same thing.  See README.md.
.PHONY: all run test bench clean

all:
	scripts/deps.sh run
	scripts/build.sh

run:
	scripts/run.sh

test:
	scripts/test.sh

bench:
	scripts/bench.sh

clean:
	rm -rf build build-asan build-clang build-tsan
