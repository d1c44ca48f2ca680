"""Built-in delivery agents, written as a third party would write theirs."""
