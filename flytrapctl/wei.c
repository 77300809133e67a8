/*
 * Numbers on flytrapctl's command line and in its output: wei amounts as
 * 256-bit big-endian integers (decimal with optional units), durations,
 * plain 64-bit integers and addresses.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chain.h"
#include "flytrapctl.h"

bool
ctl_u256_is_zero(const uint8_t v[32])
{
	size_t i;

	for (i = 0; i < 32; i++)
		if (v[i] != 0)
			return false;
	return true;
}

bool
ctl_u256_fits(const uint8_t v[32], unsigned bits)
{
	size_t i, zero_bytes = (256 - bits) / 8;

	for (i = 0; i < zero_bytes; i++)
		if (v[i] != 0)
			return false;
	return true;
}

int
ctl_u256_cmp(const uint8_t a[32], const uint8_t b[32])
{
	return memcmp(a, b, 32);
}

bool
ctl_u256_add(uint8_t a[32], const uint8_t b[32])
{
	unsigned carry = 0;
	int i;

	for (i = 31; i >= 0; i--) {
		unsigned s = (unsigned)a[i] + b[i] + carry;

		a[i] = (uint8_t)s;
		carry = s >> 8;
	}
	return carry == 0;
}

bool
ctl_u256_mul_u64(uint8_t a[32], uint64_t m)
{
	unsigned __int128 carry = 0;
	int i;

	for (i = 31; i >= 0; i--) {
		unsigned __int128 p = (unsigned __int128)a[i] * m + carry;

		a[i] = (uint8_t)p;
		carry = p >> 8;
	}
	return carry == 0;
}

/* a /= d (d > 0); returns the remainder. */
static unsigned
ctl_u256_div_small(uint8_t a[32], unsigned d)
{
	unsigned rem = 0;
	size_t i;

	for (i = 0; i < 32; i++) {
		unsigned cur = rem << 8 | a[i];

		a[i] = (uint8_t)(cur / d);
		rem = cur % d;
	}
	return rem;
}

char *
ctl_u256_dec(const uint8_t v[32], char out[CTL_U256_DEC_SIZE])
{
	uint8_t t[32];
	char rev[CTL_U256_DEC_SIZE];
	size_t n = 0, i;

	memcpy(t, v, 32);
	do
		rev[n++] = (char)('0' + ctl_u256_div_small(t, 10));
	while (!ctl_u256_is_zero(t));
	for (i = 0; i < n; i++)
		out[i] = rev[n - 1 - i];
	out[n] = '\0';
	return out;
}

char *
ctl_u256_hex(const uint8_t v[32], char out[CTL_U256_HEX_SIZE])
{
	static const char digits[] = "0123456789abcdef";
	size_t i, n = 2;
	bool started = false;

	out[0] = '0';
	out[1] = 'x';
	for (i = 0; i < 64; i++) {
		unsigned nib = (v[i / 2] >> (i % 2 == 0 ? 4 : 0)) & 0xf;

		if (nib != 0)
			started = true;
		if (started)
			out[n++] = digits[nib];
	}
	if (!started)
		out[n++] = '0';
	out[n] = '\0';
	return out;
}

bool
ctl_wei_parse(const char *s, uint8_t out[32])
{
	static const struct {
		const char *name;
		unsigned decimals;
	} units[] = {
	    {"wei", 0},
	    {"gwei", 9},
	    {"ether", 18},
	    {"eth", 18},
	};
	uint8_t digit[32] = {0};
	const char *p, *end, *unit;
	unsigned decimals = 0, frac_digits = 0, i;
	bool any = false, in_frac = false;

	memset(out, 0, 32);
	/* The unit, if any: the letters at the end, maybe after spaces. */
	unit = s + strlen(s);
	while (unit > s && isalpha((unsigned char)unit[-1]))
		unit--;
	end = unit;
	if (*unit != '\0') {
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcasecmp(unit, units[i].name) == 0)
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return false;
		decimals = units[i].decimals;
		while (end > s && end[-1] == ' ')
			end--;
	}
	for (p = s; p < end; p++) {
		if (*p == '.' && !in_frac && decimals > 0) {
			in_frac = true;
			continue;
		}
		if (!isdigit((unsigned char)*p))
			return false;
		if (in_frac && ++frac_digits > decimals)
			return false;
		digit[31] = (uint8_t)(*p - '0');
		if (!ctl_u256_mul_u64(out, 10) || !ctl_u256_add(out, digit))
			return false;
		any = true;
	}
	if (!any)
		return false;
	for (i = frac_digits; i < decimals; i++)
		if (!ctl_u256_mul_u64(out, 10))
			return false;
	return true;
}

bool
ctl_u64_parse(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

bool
ctl_duration_parse(const char *s, uint64_t *out)
{
	static const struct {
		char unit;
		uint64_t seconds;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	char num[32];
	size_t len = strlen(s), i;
	uint64_t v, mult = 1;

	if (len == 0 || len >= sizeof(num))
		return false;
	memcpy(num, s, len + 1);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (num[len - 1] == units[i].unit) {
			mult = units[i].seconds;
			num[--len] = '\0';
			break;
		}
	if (!ctl_u64_parse(num, &v) || (v != 0 && mult > UINT64_MAX / v))
		return false;
	*out = v * mult;
	return true;
}

enum ctl_status
ctl_address_arg(const char *what, const char *s, uint8_t out[ETH_ADDRESS_LEN])
{
	if (!eth_address_parse(s, strlen(s), out)) {
		ctl_error("%s: '%s' is not an address (0x and 40 hex digits)",
		    what, s);
		return CTL_FAILED;
	}
	return CTL_OK;
}
