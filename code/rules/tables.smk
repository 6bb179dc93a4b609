# Tables 2 and 3: generated from the model code (layer, output shape, parameters), never typed.


TABLE_CODE = ["code/sinkgan/models.py", "code/sinkgan/tables.py"]


rule table:
    input:
        by_content(TABLE_CODE),
    output:
        report("figures/{table}.tex", caption="../report/table.rst", category="Tables"),
    params:
        caption=lambda w: f"Paper: {CAPTIONS.get(w.table, '')}",
        code=content_digest(TABLE_CODE),  # an edit of the model code redraws the tables (see common.smk)
    wildcard_constraints:
        table="|".join(TABLES),
    log:
        f"{RESULTS}/logs/table/{{table}}.log",
    conda:
        ENV
    shell:
        "python -m sinkgan table {wildcards.table} --out {output} > {log} 2>&1"
