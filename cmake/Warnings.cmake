# The curated warning set of STYLE.md R15, in one place.
set(BULKHEAD_WARNINGS
	-Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes
	-Wstrict-prototypes -Wmissing-declarations -Wpointer-arith
	-Wcast-qual -Wwrite-strings -Wundef -Wsign-compare -Wvla)
option(BULKHEAD_WERROR "Treat warnings as errors" OFF)
if(BULKHEAD_WERROR)
	list(APPEND BULKHEAD_WARNINGS -Werror)
endif()
