# Kafka sink, included by agent/CMakeLists.txt. Needs fs_records (the codec table, encoders and
# the loop, defined by agent/CMakeLists.txt) and librdkafka.
add_library(fs_sink_kafka STATIC ${CMAKE_CURRENT_LIST_DIR}/sink_kafka.c
	${CMAKE_CURRENT_LIST_DIR}/kafka_stats.c)
target_include_directories(fs_sink_kafka PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(fs_sink_kafka PUBLIC fs_records PkgConfig::RDKAFKA PkgConfig::JANSSON)
