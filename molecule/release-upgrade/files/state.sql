-- The database's state as one JSON value: every table's row count and the md5 of its
-- rows, the schema revision, the two roles with their attributes and password
-- verifiers (hashed once more), table grants, default privileges and the database's
-- owner and ACL. Read before and after an upgrade; the two must be equal but for
-- server_major. Rows are ordered by their text in the C collation, which no glibc
-- upgrade changes.
SELECT json_build_object(
    'server_major', current_setting('server_version_num')::int / 10000,
    'revision', (SELECT string_agg(version_num, ',') FROM alembic_version),
    'tables', (
        SELECT json_object_agg(relname, json_build_array(
            (xpath('/row/n/text()', query_to_xml(
                format('SELECT count(*) AS n FROM public.%I', relname), false, true, '')))[1]::text,
            (xpath('/row/m/text()', query_to_xml(
                format('SELECT md5(coalesce(string_agg(t::text, ''|'' ORDER BY t::text COLLATE "C"), ''''))'
                       ' AS m FROM public.%I t', relname), false, true, '')))[1]::text
        ) ORDER BY relname)
        FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'
    ),
    'roles', (
        SELECT json_object_agg(rolname, json_build_array(
            rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
            rolbypassrls, rolconnlimit, md5(coalesce(rolpassword, ''))
        ) ORDER BY rolname)
        FROM pg_authid WHERE rolname IN ('backend_owner', 'backend_app')
    ),
    'grants', (
        SELECT json_agg(grantee || ' ' || privilege_type || ' ' || table_name
                        ORDER BY grantee, table_name, privilege_type)
        FROM information_schema.role_table_grants
        -- The privileges both majors know (17 adds MAINTAIN to every owner's).
        WHERE table_schema = 'public'
          AND privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER')
    ),
    'default_privileges', (
        SELECT json_agg(pg_get_userbyid(defaclrole) || ' ' || defaclobjtype::text || ' ' || defaclacl::text
                        ORDER BY defaclrole, defaclobjtype)
        FROM pg_default_acl
    ),
    'database', (
        SELECT json_build_array(pg_get_userbyid(datdba), datacl::text)
        FROM pg_database WHERE datname = current_database()
    )
);
