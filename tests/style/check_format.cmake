file(GLOB_RECURSE sources
	${ROOT}/agent/*.c ${ROOT}/agent/*.h ${ROOT}/bpf/*.c ${ROOT}/bpf/*.h
	${ROOT}/dns/*.c ${ROOT}/dns/*.h ${ROOT}/conntrack/*.c ${ROOT}/conntrack/*.h
	${ROOT}/identity/*.c ${ROOT}/identity/*.h
	${ROOT}/policy/*.c ${ROOT}/policy/*.h ${ROOT}/tracer/*.c ${ROOT}/tracer/*.h
	${ROOT}/tests/*.c ${ROOT}/tests/*.h ${ROOT}/bench/*.c ${ROOT}/bench/*.h)
# generated: bpftool's output, not ours
list(FILTER sources EXCLUDE REGEX "/bpf/vmlinux/")
execute_process(COMMAND ${CLANG_FORMAT} --dry-run --Werror ${sources}
	RESULT_VARIABLE rc ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
	message(FATAL_ERROR "clang-format: these files need `clang-format -i`:\n${out}")
endif()
list(LENGTH sources n)
message(STATUS "clang-format: ${n} files clean")
