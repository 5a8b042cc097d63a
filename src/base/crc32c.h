/* crc32c.h — CRC-32C (Castagnoli), the checksum of Kafka record batches and of
 * braid's own files. Uses the SSE4.2 instruction when the CPU has it. */
#ifndef BR_CRC32C_H
#define BR_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* crc is the running value: start with 0. */
uint32_t br_crc32c(uint32_t crc, const void *p, size_t n);

#endif
