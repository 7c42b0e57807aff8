"""Tasks written by hand, for operations whose task must do more than the generated one.

One module per family, named after it (tasks/_handwritten/contracts.py holds hand-written tasks of the
`contracts` family). Each task is a function named like its catalog operation and decorated with
`@spotdraft_task("<operation>")`. `make generate` reads these modules (it does not import them), generates
no task for such an operation, and re-exports the hand-written one from the family module, so the public
names stay `tasks.<family>.<task>` and `tasks.<task>`. A hand-written task for an operation the catalog
does not have, or in the wrong family's module, stops the generator with its name.

A task that only needs better words than the generated docstring is not written here: its entry in
tools/operations/<family>.yaml gives them as `doc:`, and the task stays generated.
"""
