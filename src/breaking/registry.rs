//! The rule registry: every rule once, sorted by ID. Categories follow buf's v2 rule set
//! (`buf config ls-breaking-rules --version v2`); `LOSSY` is grpc-double's own.

use super::{
    Category::{self, Csr, File, Lossy, Package, Wire, WireJson},
    rule::{Rule, Scope},
    rules::{enums, field, file, message, service},
};

const F: &[Category] = &[File];
const FP: &[Category] = &[File, Package];
const CF: &[Category] = &[Csr, File];
const CFP: &[Category] = &[Csr, File, Package];
const CFPJ: &[Category] = &[Csr, File, Package, WireJson];
const CFPJW: &[Category] = &[Csr, File, Package, WireJson, Wire];
const P: &[Category] = &[Package];
const CJ: &[Category] = &[Csr, WireJson];
const CJW: &[Category] = &[Csr, WireJson, Wire];
const W: &[Category] = &[Wire];
const L: &[Category] = &[Lossy];
/// Deprecated rules belong to no category: they run only when named.
const NONE: &[Category] = &[];

const fn rule(
    id: &'static str,
    categories: &'static [Category],
    scope: Scope,
    purpose: &'static str,
) -> Rule {
    let mut default = false;
    let mut i = 0;
    while i < categories.len() {
        if matches!(categories[i], File) {
            default = true;
        }
        i += 1;
    }
    Rule {
        id,
        purpose,
        categories,
        default,
        deprecated: categories.is_empty(),
        scope,
    }
}

/// Every rule, sorted by ID.
pub static RULES: &[Rule] = &[
    rule(
        "ENUM_NO_DELETE",
        CF,
        Scope::Schema(file::enum_no_delete),
        "Checks that enums are not deleted from a given file.",
    ),
    rule(
        "ENUM_SAME_JSON_FORMAT",
        CFPJ,
        Scope::Enum(enums::enum_same_json_format),
        "Checks that enums have the same JSON format support.",
    ),
    rule(
        "ENUM_SAME_TYPE",
        FP,
        Scope::Enum(enums::enum_same_type),
        "Checks that enums have the same type (open vs closed).",
    ),
    rule(
        "ENUM_VALUE_NO_DELETE",
        CFP,
        Scope::Enum(enums::enum_value_no_delete),
        "Checks that enum values are not deleted from a given enum.",
    ),
    rule(
        "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED",
        CJ,
        Scope::Enum(enums::enum_value_no_delete_unless_name_reserved),
        "Checks that enum values are not deleted from a given enum unless the name is reserved.",
    ),
    rule(
        "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED",
        CJW,
        Scope::Enum(enums::enum_value_no_delete_unless_number_reserved),
        "Checks that enum values are not deleted from a given enum unless the number is reserved.",
    ),
    rule(
        "ENUM_VALUE_SAME_NAME",
        CFPJ,
        Scope::EnumValue(enums::enum_value_same_name),
        "Checks that enum values have the same name.",
    ),
    rule(
        "EXTENSION_MESSAGE_NO_DELETE",
        CFP,
        Scope::Message(message::extension_message_no_delete),
        "Checks that extension ranges are not deleted from a given message.",
    ),
    rule(
        "EXTENSION_NO_DELETE",
        F,
        Scope::Schema(file::extension_no_delete),
        "Checks that extensions are not deleted from a given file.",
    ),
    rule(
        "FIELD_NO_DELETE",
        CFP,
        Scope::Message(message::field_no_delete),
        "Checks that fields are not deleted from a given message.",
    ),
    rule(
        "FIELD_NO_DELETE_UNLESS_NAME_RESERVED",
        CJ,
        Scope::Message(message::field_no_delete_unless_name_reserved),
        "Checks that fields are not deleted from a given message unless the name is reserved.",
    ),
    rule(
        "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
        CJW,
        Scope::Message(message::field_no_delete_unless_number_reserved),
        "Checks that fields are not deleted from a given message unless the number is reserved.",
    ),
    rule(
        "FIELD_SAME_CARDINALITY",
        FP,
        Scope::Field(field::field_same_cardinality),
        "Checks that fields have the same cardinalities in a given message.",
    ),
    rule(
        "FIELD_SAME_CPP_STRING_TYPE",
        FP,
        Scope::Field(field::field_same_cpp_string_type),
        "Checks that fields have the same C++ string type, based on ctype field option or (pb.cpp).string_type feature.",
    ),
    rule(
        "FIELD_SAME_CTYPE",
        NONE,
        Scope::Field(field::field_same_ctype),
        "Checks that fields have the same value for the ctype option (deprecated: use FIELD_SAME_CPP_STRING_TYPE).",
    ),
    rule(
        "FIELD_SAME_DEFAULT",
        CFPJW,
        Scope::Field(field::field_same_default),
        "Checks that fields have the same default value, if a default is specified.",
    ),
    rule(
        "FIELD_SAME_JAVA_UTF8_VALIDATION",
        FP,
        Scope::Field(field::field_same_java_utf8_validation),
        "Checks that fields have the same Java string UTF8 validation, based on java_string_check_utf8 file option or (pb.java).utf8_validation feature.",
    ),
    rule(
        "FIELD_SAME_JSON_NAME",
        CFPJ,
        Scope::Field(field::field_same_json_name),
        "Checks that fields have the same value for the json_name option.",
    ),
    rule(
        "FIELD_SAME_JSTYPE",
        FP,
        Scope::Field(field::field_same_jstype),
        "Checks that fields have the same value for the jstype option.",
    ),
    rule(
        "FIELD_SAME_LABEL",
        NONE,
        Scope::Field(field::field_same_label),
        "Checks that fields have the same labels in a given message (deprecated: use the *_CARDINALITY rules).",
    ),
    rule(
        "FIELD_SAME_NAME",
        CFPJ,
        Scope::Field(field::field_same_name),
        "Checks that fields have the same name in a given message.",
    ),
    rule(
        "FIELD_SAME_ONEOF",
        CFPJW,
        Scope::Field(field::field_same_oneof),
        "Checks that fields have the same oneofs in a given message.",
    ),
    rule(
        "FIELD_SAME_TYPE",
        CFP,
        Scope::Field(field::field_same_type),
        "Checks that fields have the same types in a given message.",
    ),
    rule(
        "FIELD_SAME_UTF8_VALIDATION",
        FP,
        Scope::Field(field::field_same_utf8_validation),
        "Checks that string fields have the same UTF8 validation mode.",
    ),
    rule(
        "FIELD_WIRE_COMPATIBLE_CARDINALITY",
        W,
        Scope::Field(field::field_wire_compatible_cardinality),
        "Checks that fields have wire-compatible cardinalities in a given message.",
    ),
    rule(
        "FIELD_WIRE_COMPATIBLE_TYPE",
        W,
        Scope::Field(field::field_wire_compatible_type),
        "Checks that fields have wire-compatible types in a given message.",
    ),
    rule(
        "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY",
        CJ,
        Scope::Field(field::field_wire_json_compatible_cardinality),
        "Checks that fields have wire and JSON compatible cardinalities in a given message.",
    ),
    rule(
        "FIELD_WIRE_JSON_COMPATIBLE_TYPE",
        CJ,
        Scope::Field(field::field_wire_json_compatible_type),
        "Checks that fields have wire and JSON compatible types in a given message.",
    ),
    rule(
        "FIELD_WIRE_LOSSY_TYPE",
        L,
        Scope::Field(field::field_wire_lossy_type),
        "Warns when a field's type changes within a wire-compatible group but loses data (int64 to int32, uint32 to int32, int64 to bool); grpc-double only.",
    ),
    rule(
        "FILE_NO_DELETE",
        CF,
        Scope::Schema(file::file_no_delete),
        "Checks that files are not deleted.",
    ),
    rule(
        "FILE_SAME_CC_ENABLE_ARENAS",
        FP,
        Scope::File(file::file_same_cc_enable_arenas),
        "Checks that files have the same value for the cc_enable_arenas option.",
    ),
    rule(
        "FILE_SAME_CC_GENERIC_SERVICES",
        FP,
        Scope::File(file::file_same_cc_generic_services),
        "Checks that files have the same value for the cc_generic_services option.",
    ),
    rule(
        "FILE_SAME_CSHARP_NAMESPACE",
        FP,
        Scope::File(file::file_same_csharp_namespace),
        "Checks that files have the same value for the csharp_namespace option.",
    ),
    rule(
        "FILE_SAME_GO_PACKAGE",
        FP,
        Scope::File(file::file_same_go_package),
        "Checks that files have the same value for the go_package option.",
    ),
    rule(
        "FILE_SAME_JAVA_GENERIC_SERVICES",
        FP,
        Scope::File(file::file_same_java_generic_services),
        "Checks that files have the same value for the java_generic_services option.",
    ),
    rule(
        "FILE_SAME_JAVA_MULTIPLE_FILES",
        FP,
        Scope::File(file::file_same_java_multiple_files),
        "Checks that files have the same value for the java_multiple_files option.",
    ),
    rule(
        "FILE_SAME_JAVA_OUTER_CLASSNAME",
        FP,
        Scope::File(file::file_same_java_outer_classname),
        "Checks that files have the same value for the java_outer_classname option.",
    ),
    rule(
        "FILE_SAME_JAVA_PACKAGE",
        FP,
        Scope::File(file::file_same_java_package),
        "Checks that files have the same value for the java_package option.",
    ),
    rule(
        "FILE_SAME_JAVA_STRING_CHECK_UTF8",
        NONE,
        Scope::File(file::file_same_java_string_check_utf8),
        "Checks that files have the same value for the java_string_check_utf8 option (deprecated: use FIELD_SAME_JAVA_UTF8_VALIDATION).",
    ),
    rule(
        "FILE_SAME_OBJC_CLASS_PREFIX",
        FP,
        Scope::File(file::file_same_objc_class_prefix),
        "Checks that files have the same value for the objc_class_prefix option.",
    ),
    rule(
        "FILE_SAME_OPTIMIZE_FOR",
        FP,
        Scope::File(file::file_same_optimize_for),
        "Checks that files have the same value for the optimize_for option.",
    ),
    rule(
        "FILE_SAME_PACKAGE",
        CFPJW,
        Scope::File(file::file_same_package),
        "Checks that files have the same package.",
    ),
    rule(
        "FILE_SAME_PHP_CLASS_PREFIX",
        FP,
        Scope::File(file::file_same_php_class_prefix),
        "Checks that files have the same value for the php_class_prefix option.",
    ),
    rule(
        "FILE_SAME_PHP_GENERIC_SERVICES",
        NONE,
        Scope::File(file::file_same_php_generic_services),
        "Checks that files have the same value for the php_generic_services option (deprecated).",
    ),
    rule(
        "FILE_SAME_PHP_METADATA_NAMESPACE",
        FP,
        Scope::File(file::file_same_php_metadata_namespace),
        "Checks that files have the same value for the php_metadata_namespace option.",
    ),
    rule(
        "FILE_SAME_PHP_NAMESPACE",
        FP,
        Scope::File(file::file_same_php_namespace),
        "Checks that files have the same value for the php_namespace option.",
    ),
    rule(
        "FILE_SAME_PY_GENERIC_SERVICES",
        FP,
        Scope::File(file::file_same_py_generic_services),
        "Checks that files have the same value for the py_generic_services option.",
    ),
    rule(
        "FILE_SAME_RUBY_PACKAGE",
        FP,
        Scope::File(file::file_same_ruby_package),
        "Checks that files have the same value for the ruby_package option.",
    ),
    rule(
        "FILE_SAME_SWIFT_PREFIX",
        FP,
        Scope::File(file::file_same_swift_prefix),
        "Checks that files have the same value for the swift_prefix option.",
    ),
    rule(
        "FILE_SAME_SYNTAX",
        CFP,
        Scope::File(file::file_same_syntax),
        "Checks that files have the same syntax.",
    ),
    rule(
        "MESSAGE_NO_DELETE",
        CF,
        Scope::Schema(file::message_no_delete),
        "Checks that messages are not deleted from a given file.",
    ),
    rule(
        "MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR",
        CFP,
        Scope::Message(message::message_no_remove_standard_descriptor_accessor),
        "Checks that messages do not change the no_standard_descriptor_accessor option from false or unset to true.",
    ),
    rule(
        "MESSAGE_SAME_JSON_FORMAT",
        CFPJ,
        Scope::Message(message::message_same_json_format),
        "Checks that messages have the same JSON format support.",
    ),
    rule(
        "MESSAGE_SAME_MESSAGE_SET_WIRE_FORMAT",
        NONE,
        Scope::Message(message::message_same_message_set_wire_format),
        "Checks that messages have the same value for the message_set_wire_format option (deprecated).",
    ),
    rule(
        "MESSAGE_SAME_REQUIRED_FIELDS",
        CFPJW,
        Scope::Message(message::message_same_required_fields),
        "Checks that messages have no added or deleted required fields.",
    ),
    rule(
        "ONEOF_NO_DELETE",
        CFP,
        Scope::Message(message::oneof_no_delete),
        "Checks that oneofs are not deleted from a given message.",
    ),
    rule(
        "PACKAGE_ENUM_NO_DELETE",
        P,
        Scope::Schema(file::package_enum_no_delete),
        "Checks that enums are not deleted from a given package.",
    ),
    rule(
        "PACKAGE_EXTENSION_NO_DELETE",
        P,
        Scope::Schema(file::package_extension_no_delete),
        "Checks that extensions are not deleted from a given package.",
    ),
    rule(
        "PACKAGE_MESSAGE_NO_DELETE",
        P,
        Scope::Schema(file::package_message_no_delete),
        "Checks that messages are not deleted from a given package.",
    ),
    rule(
        "PACKAGE_NO_DELETE",
        P,
        Scope::Schema(file::package_no_delete),
        "Checks that packages are not deleted.",
    ),
    rule(
        "PACKAGE_SERVICE_NO_DELETE",
        P,
        Scope::Schema(file::package_service_no_delete),
        "Checks that services are not deleted from a given package.",
    ),
    rule(
        "RESERVED_ENUM_NO_DELETE",
        CFPJW,
        Scope::Enum(enums::reserved_enum_no_delete),
        "Checks that reserved ranges and names are not deleted from a given enum.",
    ),
    rule(
        "RESERVED_MESSAGE_NO_DELETE",
        CFPJW,
        Scope::Message(message::reserved_message_no_delete),
        "Checks that reserved ranges and names are not deleted from a given message.",
    ),
    rule(
        "RPC_NO_DELETE",
        FP,
        Scope::Service(service::rpc_no_delete),
        "Checks that RPCs are not deleted from a given service.",
    ),
    rule(
        "RPC_SAME_CLIENT_STREAMING",
        CFPJW,
        Scope::Method(service::rpc_same_client_streaming),
        "Checks that RPCs have the same client streaming value.",
    ),
    rule(
        "RPC_SAME_IDEMPOTENCY_LEVEL",
        CFPJW,
        Scope::Method(service::rpc_same_idempotency_level),
        "Checks that RPCs have the same value for the idempotency_level option.",
    ),
    rule(
        "RPC_SAME_REQUEST_TYPE",
        CFPJW,
        Scope::Method(service::rpc_same_request_type),
        "Checks that RPCs are have the same request type.",
    ),
    rule(
        "RPC_SAME_RESPONSE_TYPE",
        CFPJW,
        Scope::Method(service::rpc_same_response_type),
        "Checks that RPCs are have the same response type.",
    ),
    rule(
        "RPC_SAME_SERVER_STREAMING",
        CFPJW,
        Scope::Method(service::rpc_same_server_streaming),
        "Checks that RPCs have the same server streaming value.",
    ),
    rule(
        "SERVICE_NO_DELETE",
        F,
        Scope::Schema(file::service_no_delete),
        "Checks that services are not deleted from a given file.",
    ),
];

/// Looks up a rule by ID (case-insensitive).
pub fn rule_by_id(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id.eq_ignore_ascii_case(id))
}
