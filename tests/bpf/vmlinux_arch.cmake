# A configure for an architecture without a checked-in vmlinux.h (and without FLOWSCOPE_BTF)
# must fail, and the message must name the option that fixes it.
#   cmake -DROOT=<source dir> -DWORK=<scratch dir> -P vmlinux_arch.cmake
file(REMOVE_RECURSE ${WORK})
execute_process(COMMAND ${CMAKE_COMMAND} -S ${ROOT} -B ${WORK} -DFLOWSCOPE_BPF_ARCH=nosucharch
		-DFLOWSCOPE_TESTS=OFF -DFLOWSCOPE_BENCH=OFF
	RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
file(REMOVE_RECURSE ${WORK})
if(rc EQUAL 0)
	message(FATAL_ERROR "configure for 'nosucharch' succeeded:\n${out}")
endif()
string(REPLACE "\n" " " err_flat "${err}")
if(NOT err_flat MATCHES "No vmlinux.h checked in for architecture 'nosucharch'"
		OR NOT err_flat MATCHES "-DFLOWSCOPE_BTF=")
	message(FATAL_ERROR "configure failed without naming FLOWSCOPE_BTF:\n${err}")
endif()
# and a configure that names a BTF file works for that architecture
execute_process(COMMAND ${CMAKE_COMMAND} -S ${ROOT} -B ${WORK} -DFLOWSCOPE_BPF_ARCH=nosucharch
		-DFLOWSCOPE_BTF=/sys/kernel/btf/vmlinux -DFLOWSCOPE_TESTS=OFF -DFLOWSCOPE_BENCH=OFF
	RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
file(REMOVE_RECURSE ${WORK})
if(NOT rc EQUAL 0 OR NOT out MATCHES "vmlinux.h: generated from /sys/kernel/btf/vmlinux")
	message(FATAL_ERROR "configure with FLOWSCOPE_BTF failed:\n${out}\n${err}")
endif()
