"""The queue manager: moves mail through the queues and schedules deliveries (Postfix qmgr)."""
