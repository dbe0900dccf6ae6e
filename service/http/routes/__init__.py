"""HTTP routes: each module translates HTTP to a call on the model object and back."""
