/*
 * Names of authd's verdicts and their mapping to CONNACK codes, kept in one
 * table so proxyd and the logs agree.
 */
#include "auth.h"

#include "mqtt.h"

static const struct {
	const char *name;
	uint8_t v5;
	uint8_t v311;
} auth_results[AUTH_RESULT_MAX] = {
    [AUTH_OK] = {"ok", MQTT_RC_SUCCESS, MQTT_V311_ACCEPTED},
    [AUTH_NO_CREDENTIALS] = {"no-credentials", MQTT_RC_NOT_AUTHORIZED,
	MQTT_V311_NOT_AUTHORIZED},
    [AUTH_BAD_SIGNATURE] = {"bad-signature", MQTT_RC_BAD_USERNAME_PASSWORD,
	MQTT_V311_BAD_USERNAME_PASSWORD},
    [AUTH_EXPIRED] = {"expired", MQTT_RC_BAD_USERNAME_PASSWORD,
	MQTT_V311_BAD_USERNAME_PASSWORD},
    [AUTH_REPLAYED] = {"replayed", MQTT_RC_BAD_USERNAME_PASSWORD,
	MQTT_V311_BAD_USERNAME_PASSWORD},
    [AUTH_STATIC_DISABLED] = {"static-disabled", MQTT_RC_BAD_USERNAME_PASSWORD,
	MQTT_V311_BAD_USERNAME_PASSWORD},
    [AUTH_BAD_CHALLENGE] = {"bad-challenge", MQTT_RC_NOT_AUTHORIZED,
	MQTT_V311_NOT_AUTHORIZED},
    [AUTH_OVERLOADED] = {"overloaded", MQTT_RC_SERVER_BUSY,
	MQTT_V311_UNAVAILABLE},
    [AUTH_BANNED] = {"banned", MQTT_RC_BANNED, MQTT_V311_NOT_AUTHORIZED},
};

const char *
auth_result_str(enum auth_result r)
{
	if ((unsigned)r >= AUTH_RESULT_MAX)
		return "unknown";
	return auth_results[r].name;
}

uint8_t
auth_result_connack(enum auth_result r, uint8_t version)
{
	if ((unsigned)r >= AUTH_RESULT_MAX)
		return version == MQTT_V5 ? MQTT_RC_NOT_AUTHORIZED
					  : MQTT_V311_NOT_AUTHORIZED;
	return version == MQTT_V5 ? auth_results[r].v5 : auth_results[r].v311;
}
