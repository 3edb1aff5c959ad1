package main

import (
	"io"
	"testing"
	"time"
)

func TestEventsFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		ok   bool
		want func(c eventsConfig) bool
	}{
		{"defaults", nil, nil, true, func(c eventsConfig) bool {
			return c.retention == 7*24*time.Hour && c.abandonAfter == time.Hour && c.webhookTimeout == 10*time.Second &&
				c.webhookRetryFor == 24*time.Hour && c.nats == "" && c.natsStream == "CARTD_EVENTS" && c.natsSubject == "cartd.events"
		}},
		{"environment twins", nil, map[string]string{"CARTD_EVENT_RETENTION": "48h", "CARTD_ABANDON_AFTER": "30m",
			"CARTD_WEBHOOK_TIMEOUT": "3s", "CARTD_WEBHOOK_RETRY_FOR": "2h", "CARTD_EVENTS_NATS": "nats://127.0.0.1:4222",
			"CARTD_EVENTS_NATS_STREAM": "SHOP", "CARTD_EVENTS_NATS_SUBJECT": "shop.events"}, true, func(c eventsConfig) bool {
			return c.retention == 48*time.Hour && c.abandonAfter == 30*time.Minute && c.webhookTimeout == 3*time.Second &&
				c.webhookRetryFor == 2*time.Hour && c.nats == "nats://127.0.0.1:4222" && c.natsStream == "SHOP" && c.natsSubject == "shop.events"
		}},
		{"flags win over the environment", []string{"--abandon-after", "0"}, map[string]string{"CARTD_ABANDON_AFTER": "2h"}, true,
			func(c eventsConfig) bool { return c.abandonAfter == 0 }},
		{"a negative retention", []string{"--event-retention", "-1h"}, nil, false, nil},
		{"a zero webhook timeout", []string{"--webhook-timeout", "0"}, nil, false, nil},
		{"a zero retry window", []string{"--webhook-retry-for", "0s"}, nil, false, nil},
		{"a NATS URL of another scheme", []string{"--events-nats", "http://127.0.0.1:4222"}, nil, false, nil},
		{"a stream name with a dot", []string{"--events-nats-stream", "a.b"}, nil, false, nil},
		{"a subject prefix with a wildcard", []string{"--events-nats-subject", "cartd.*"}, nil, false, nil},
		{"a bad environment value", nil, map[string]string{"CARTD_WEBHOOK_TIMEOUT": "soon"}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := parseConfig("serve", tt.args, env(tt.env), io.Discard)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if tt.ok && !tt.want(c.events) {
				t.Fatalf("config %+v", c.events)
			}
		})
	}
}
