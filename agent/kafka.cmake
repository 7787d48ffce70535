# Kafka sink, included by agent/CMakeLists.txt. Needs fs_proto (proto/) and fs_records (the
# JSON encoder and the log functions, defined by agent/CMakeLists.txt) and fs_dns (DNS
# TYPE and RCODE names).
add_library(fs_sink_kafka STATIC
	${CMAKE_CURRENT_LIST_DIR}/sink_kafka.c
	${CMAKE_CURRENT_LIST_DIR}/record_proto.c)
target_include_directories(fs_sink_kafka PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(fs_sink_kafka PUBLIC fs_proto fs_records fs_dns PkgConfig::RDKAFKA)
