"""Identity resolution: finding a person's record in each service without a shared id.

Pure parts (normalisation, nicknames, date swaps, comparisons, the scoring of one pair with a
trained model, thresholds per event type) live here and are unit tested; Splink (training and
bulk prediction on DuckDB) sits behind the narrow port in `hub.identity.splink_port`.
"""
