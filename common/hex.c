/*
 * Hex encoding and decoding. Decoding runs without branches on the digits'
 * values, since it also decodes private keys.
 */
#include <stdint.h>

#include "hex.h"

void
hex_encode(const void *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/*
 * Returns the value of hex digit c (0..15) with bit 8 clear, or a value with
 * bit 8 set if c is not a hex digit (after libsodium's sodium_hex2bin).
 */
static unsigned
hex_digit_value(unsigned char ch)
{
	unsigned c = ch;
	unsigned num = c ^ 0x30u; /* '0'..'9' -> 0..9 */
	unsigned num_ok = ((num - 10u) >> 8) & 0xffu;
	unsigned alpha = (c & ~0x20u) - 55u; /* 'A'..'F', 'a'..'f' -> 10..15 */
	unsigned alpha_ok = (((alpha - 10u) ^ (alpha - 16u)) >> 8) & 0xffu;
	unsigned ok = num_ok | alpha_ok;

	return ((num_ok & num) | (alpha_ok & alpha)) | ((ok ^ 0xffu) << 1);
}

bool
hex_decode_exact(const char *s, size_t len, uint8_t *out, size_t want)
{
	unsigned bad = 0;

	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		len -= 2;
	}
	if (want > SIZE_MAX / 2 || len != 2 * want)
		return false;
	/* Check every digit before writing, so out is untouched on failure. */
	for (size_t i = 0; i < len; i++)
		bad |= hex_digit_value((unsigned char)s[i]);
	if (bad & 0x100u)
		return false;
	for (size_t i = 0; i < want; i++)
		out[i] =
		    (uint8_t)((hex_digit_value((unsigned char)s[2 * i]) << 4) |
			hex_digit_value((unsigned char)s[2 * i + 1]));
	return true;
}
