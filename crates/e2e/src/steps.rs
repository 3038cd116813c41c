//! Steps many end-to-end tests share: joining a device, reading the tenant id, applying
//! CSP policy with `latchkeyd policy apply`.

use crate::{Output, Service, Totp, World};

impl World {
    /// `latchkey join` of device `device` to `svc` as `upn` with the password and a fresh
    /// one-time code (a cloud join with MFA: the owner's device then stands in for the
    /// one-time code at a first setup).
    pub fn join(&self, svc: &Service, device: &str, upn: &str, password: &str, totp: &Totp) {
        self.join_as(svc, device, upn, password, totp, "cloud");
    }

    /// [`World::join`] with the join type `join_type`; the command's output.
    pub fn join_as(
        &self,
        svc: &Service,
        device: &str,
        upn: &str,
        password: &str,
        totp: &Totp,
        join_type: &str,
    ) -> Output {
        let out = self.try_join(svc, device, upn, password, totp, join_type);
        out.assert_ok();
        out
    }

    /// The `latchkey join` of [`World::join_as`], its output unchecked (for a join that
    /// must be refused).
    pub fn try_join(
        &self,
        svc: &Service,
        device: &str,
        upn: &str,
        password: &str,
        totp: &Totp,
        join_type: &str,
    ) -> Output {
        let ca = self.ca_file().display().to_string();
        let otp = totp.fresh();
        let args = [
            "join",
            "--server",
            &svc.url,
            "--user",
            upn,
            "--password-stdin",
            "--otp",
            &otp,
            "--ca",
            &ca,
            "--join-type",
            join_type,
        ];
        self.device(device, &args, &format!("{password}\n"))
    }

    /// The tenant id (`latchkeyd tenant show`).
    pub fn tenant_id(&self) -> String {
        let t = self
            .admin(&["tenant", "show", "--json"], "")
            .assert_ok()
            .json();
        t["tenant_id"].as_str().expect("tenant_id").to_string()
    }

    /// `latchkeyd policy apply` of Replaces of `(path under PassportForWork/, format, data)`,
    /// `{t}` in a path standing for the tenant id; every command must apply.
    pub fn apply_csp(&self, settings: &[(&str, &str, &str)]) -> Output {
        let tenant = self.tenant_id();
        let mut body = String::new();
        for (i, (path, format, data)) in settings.iter().enumerate() {
            body.push_str(&format!(
                "<Replace><CmdID>{}</CmdID><Item><Target><LocURI>./Device/Vendor/MSFT/PassportForWork/{path}</LocURI></Target><Meta><Format xmlns=\"syncml:metinf\">{format}</Format></Meta><Data>{data}</Data></Item></Replace>",
                i + 1,
                path = path.replace("{t}", &tenant),
            ));
        }
        let xml = format!(
            "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncBody>{body}<Final/></SyncBody></SyncML>"
        );
        let file = self.root.path().join("csp-policy.xml");
        std::fs::write(&file, xml).expect("write the policy file");
        let out = self.admin(&["policy", "apply", file.to_str().expect("utf-8 path")], "");
        out.assert_ok();
        assert!(
            !out.stdout
                .lines()
                .any(|l| l.contains("\t4") || l.contains("\t5")),
            "every command applied: {}",
            out.stdout
        );
        out
    }
}
