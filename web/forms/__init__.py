"""The staff pages' forms, one module per area. Every form that calls a service derives from
core.forms.ServiceForm, which puts the service's refusal on the form."""
