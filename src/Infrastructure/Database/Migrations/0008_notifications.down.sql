DROP TABLE IF EXISTS stream_tickets;
DROP TABLE IF EXISTS notifications;
DROP TABLE IF EXISTS stream_events;
DROP TABLE IF EXISTS stream_heads;
