# Tables 2 and 3: generated from the model code (layer, output shape, parameters), never typed.


rule table:
    input:
        "code/sinkgan/models.py",
        "code/sinkgan/tables.py",
    output:
        "figures/{table}.tex",
    wildcard_constraints:
        table="table2|table3",
    shell:
        "sinkgan table {wildcards.table} --out {output}"
