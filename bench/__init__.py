"""`make bench`: what the gateway costs, how far it scales, beside the alternatives."""
