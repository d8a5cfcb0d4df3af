# BULKHEAD_SANITIZE="address,undefined" builds everything instrumented;
# make test runs the whole suite against such a build.
set(BULKHEAD_SANITIZE "" CACHE STRING "e.g. address,undefined")
if(BULKHEAD_SANITIZE)
	add_compile_options(-fsanitize=${BULKHEAD_SANITIZE}
		-fno-sanitize-recover=all -fno-omit-frame-pointer)
	add_link_options(-fsanitize=${BULKHEAD_SANITIZE})
endif()
