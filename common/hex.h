/* Hex encoding and decoding, as Ethereum writes it (lowercase, 0x-prefixed). */
#ifndef FLYTRAP_HEX_H
#define FLYTRAP_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Writes 2*len lowercase hex digits and a NUL to out (room for 2*len+1).
 * No prefix.
 */
void hex_encode(const void *data, size_t len, char *out);

/*
 * Decodes hex text of exactly 2*want digits (an optional "0x"/"0X" prefix
 * allowed, either case) into out[want]. Returns false on any other length
 * or a non-hex digit.
 */
bool hex_decode_exact(const char *s, size_t len, uint8_t *out, size_t want)
    __attribute__((warn_unused_result));

#endif
